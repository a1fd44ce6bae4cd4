"""Reproduce a production incident: record a real vmtoolsd, import what a handler logged, keep it as a
scenario file, replay it on virtual time, compare it with the simulator, and shrink it to a regression test."""
