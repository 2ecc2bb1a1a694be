# Builds the CREATE TABLE statements mailcow's init_db_schema() sends, from
# the $tables array literal in data/web/inc/init_db.inc.php (same string
# assembly as the PHP "Create table if it is missing" branch).
import re, sys
src = open(sys.argv[1]).read()
start = src.index('$tables = array(') + len('$tables = ')
tok_re = re.compile(r'\s+|//[^\n]*|"((?:[^"\\]|\\.)*)"|array\(|\)|=>|,')
toks, pos = [], start
while True:
    m = tok_re.match(src, pos)
    if not m: raise SystemExit('parse error at %r' % src[pos:pos+40])
    t = m.group(0); pos = m.end()
    if t.strip() == '' or t.startswith('//'): continue
    toks.append(('s', m.group(1)) if t.startswith('"') else ('p', t))
    if t == ')' and sum(1 if x==('p','array(') else -1 if x==('p',')') else 0 for x in toks) == 0: break
i = 0
def parse():
    global i
    k, v = toks[i]
    if k == 's': i += 1; return v.replace('\\"','"')
    assert v == 'array(', toks[i]; i += 1
    items = []
    while toks[i] != ('p', ')'):
        a = parse()
        if toks[i] == ('p', '=>'):
            i += 1; items.append((a, parse()))
        else: items.append((None, a))
        if toks[i] == ('p', ','): i += 1
    i += 1
    return items
tables = dict(parse())
for name in sys.argv[2:]:
    p = dict(tables[name])
    sql = "CREATE TABLE IF NOT EXISTS `%s` (" % name
    for col, typ in p['cols']: sql += "`%s` %s," % (col, typ)
    for kt, kc in dict(p.get('keys', [])).items():
        kt = kt.lower()
        for kn, kv in kc:
            if kt == 'primary':
                sql += "PRIMARY KEY (%s)," % ", ".join("`%s`" % f for _, f in kv)
            elif kt in ('key', 'unique'):
                sql += "%sKEY `%s` (%s)," % ('UNIQUE ' if kt == 'unique' else '', kn, ", ".join("`%s`" % f for _, f in kv))
            elif kt == 'fkey':
                d = dict(kv); tr, fr = d['ref'].split('.')
                sql += "FOREIGN KEY `%s` (%s) REFERENCES `%s` (`%s`)\n                ON DELETE %s ON UPDATE %s," % (kn, d['col'], tr, fr, d['delete'], d['update'])
    sql = sql.rstrip(',') + ") " + p['attr']
    print(sql + ";\n")
