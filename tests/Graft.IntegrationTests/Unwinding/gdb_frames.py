# Prints every thread's frames as gdb unwinds them, one line per thread:
#   frames <TAB> lwp <TAB> why gdb stopped <TAB> pc type name <TAB> pc type name ...
# (pc in hex; type "sigtramp" for a signal trampoline, else "normal"; name
# "??" where gdb has none).
# Inline and tail-call frames are left out: gdb synthesizes them from debug
# information (an inlined call shares its caller's pc; a tail call left no
# return address on the stack), so they are not frames of the machine stack.
import gdb

synthesized = (gdb.INLINE_FRAME, gdb.TAILCALL_FRAME)
for thread in sorted(gdb.selected_inferior().threads(), key=lambda t: t.ptid[1]):
    thread.switch()
    frame = gdb.newest_frame()
    frames = []
    while True:
        if frame.type() not in synthesized:
            kind = "sigtramp" if frame.type() == gdb.SIGTRAMP_FRAME else "normal"
            frames.append("%x %s %s" % (frame.pc(), kind, frame.name() or "??"))
        older = frame.older()
        if older is None:
            break
        frame = older
    reason = gdb.frame_stop_reason_string(frame.unwind_stop_reason())
    print("\t".join(["frames", str(thread.ptid[1]), reason] + frames))
