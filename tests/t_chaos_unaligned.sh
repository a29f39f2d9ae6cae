#!/usr/bin/env bash
# The chaos test (tests/t_chaos.sh) with unaligned checkpoints, then aligned
# ones with a 200 ms aligned-checkpoint-timeout: every failure of the
# catalogue, the throttle among them, while barriers overtake records and
# channel state is written and restored; `cpdemo verify` must find nothing
# lost and nothing duplicated. CHAOS_SEED and CHAOS_N as there.
CHAOS_BACKENDS=${CHAOS_BACKENDS:-unaligned timeout} exec bash "$(dirname "$0")/t_chaos.sh"
