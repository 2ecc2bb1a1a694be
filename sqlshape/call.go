package sqlshape

// RoutineArg names the stored-procedure parameter a placeholder is bound
// to: the ? is, alone, the Position-th argument of CALL [Schema.]Name(...).
type RoutineArg struct {
	Schema, Name string // Schema "" means the connection's database
	Position     int    // 1-based, as information_schema.PARAMETERS' ORDINAL_POSITION
}

// parseCallStatement reads CALL [schema.]name[(args)] and marks each placeholder
// that is a whole argument with its RoutineArg; the placeholders of other
// arguments (expressions) stay not understood. It reports false when the
// statement is not such a CALL.
func (p *sqlParser) parseCallStatement(uses []ParamUse) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, isSyntax := r.(sqlSyntaxError); !isSyntax {
				panic(r)
			}
			ok = false
		}
	}()
	if !p.acceptKw("CALL") {
		return false
	}
	ra := RoutineArg{Name: p.parseName("a procedure's name")}
	if p.acceptOp(".") {
		ra.Schema, ra.Name = ra.Name, p.parseName("a procedure's name")
	}
	marked := map[int]RoutineArg{}
	if p.acceptOp("(") && !p.acceptOp(")") {
		for {
			ra.Position++
			if t := p.peek(); t.kind == tkParam && (p.isOp(1, ",") || p.isOp(1, ")")) {
				marked[t.param] = ra
				p.next()
			} else {
				p.skipArg()
			}
			if p.acceptOp(")") {
				break
			}
			p.expectOp(",")
		}
	}
	p.acceptOp(";")
	if p.peek().kind != tkEOF {
		p.fail("unexpected text after the statement")
	}
	for i, ra := range marked {
		ra := ra
		uses[i] = ParamUse{Index: i + 1, Routine: &ra,
			Why: "not a SELECT statement: CALL, the procedure's parameter is left to the catalogue"}
	}
	return true
}

// skipArg skips one argument of a call: tokens up to the next "," or ")"
// outside parentheses.
func (p *sqlParser) skipArg() {
	for !p.isOp(0, ",") && !p.isOp(0, ")") {
		switch {
		case p.peek().kind == tkEOF:
			p.fail("unbalanced parentheses")
		case p.isOp(0, "("):
			p.skipGroup()
		default:
			p.next()
		}
	}
}
