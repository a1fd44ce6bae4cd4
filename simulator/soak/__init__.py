"""``vmotion-sim soak``: seeded random sequences of what can happen to a handler, with invariants after each step.

``steps`` draws a sequence from a seed (same seed, same sequence), ``runner`` plays it against a handler process
on a simulated VM (optionally at speed), or ``virtual`` against the bundled handler's core on virtual time, and
``invariants`` says what must hold after each step; ``cli`` is the command. A violation is saved as a reproducer
(``reproducer``: a scenario file of the incident package) that ``vmotion-sim run FILE`` plays again.
"""
