# breakpoint()
def set_breakpoint(line):
debugger.set_trace_enabled = False
