package main

// The table types mapgate serves (engine.Register): one import per engine.
import (
	_ "mapgate/engine/mysql"
	_ "mapgate/engine/pgsql"
)
