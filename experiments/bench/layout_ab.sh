#!/bin/sh
# layout_ab.sh — the training step with every activation plain (SAKD_LAYOUT=plain) against the
# host provider's layout plan (channel-blocked activations between oneDNN convolutions, the
# default), in alternating rounds on one core, one thread, as a sweep's runs train: build_ab.sh
# with the two settings of one build as its A and B.
# usage: experiments/bench/layout_ab.sh [ROUNDS] [sakd bench train arguments...]
# SAKD selects the binary (default ./sakd); PAUSE_PATTERN as for build_ab.sh.
sakd=${SAKD:-./sakd}
exec "$(dirname "$0")/build_ab.sh" "env SAKD_LAYOUT=plain $sakd" "env SAKD_LAYOUT=auto $sakd" "$@"
