"""The code location's default executor: in process.

A run launched from a backfill, a schedule or the UI executes its steps in the run's own process.
Dagster's default starts one more Python process per step, each importing Dagster and this package
and loading the definitions again (2-3 s of CPU on the development machine) before it does anything:
for a backfill run over a hundred prospects that is the profile step plus its contract check, two
processes, and the start-up of the first run is time the provider waits (bench/backfill.py). The
work of these steps is concurrent inside the step already (prospects in flight under the provider's
shared rate limit), so a process per step buys no speed here; it buys isolation from a step that
crashes its interpreter, which a failed run still shows.

The prospect and conversation jobs the sensors launch keep a process per step (``pipeline.py``):
their draft and context-pack steps call different model families and run side by side; so does
the discovery job (``discovery/schedule.py``), whose hypotheses ask their sources side by side.
"""

import dagster as dg

defs = dg.Definitions(executor=dg.in_process_executor)
