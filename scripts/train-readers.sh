#!/usr/bin/env bash
# Trains one reader component of the Shapes pack in the background-friendly way used for the shipped
# weights: one libtorch thread, nice 5, resuming from the last checkpoint if a run dies.
# usage: scripts/train-readers.sh COMPONENT STEPS [extra args for train-readers.cs]
set -u
component=$1; steps=$2; shift 2
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_GCgen0size=0x10000000
for attempt in 1 2 3 4 5; do
  nice -n 5 dotnet run "$(dirname "$0")/train-readers.cs" -- "$component" 600 "$steps" --resume "$@" && exit 0
  echo "run $attempt of $component failed; resuming from its checkpoint"
done
exit 1
