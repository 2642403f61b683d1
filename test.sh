#!/usr/bin/env bash
# Runs every test that needs nothing beyond this repository and public package registries.
# Installs what the tests use when it is missing: Debian's mosquitto and mosquitto-clients (external-broker
# contract tests, MQTT 3.1.1 clients),
# opus-tools (reference Opus decoder), libmpg123-0 (the MPEG-2.5 decoder, as on boards), python3 (drives libopus itself as the reference at every Opus rate and under
# loss), espeak-ng and sox (spoken test clips), ffmpeg (reference decoder and encoder of the audio container corpus),
# libicu72 (NFC for the tokenizers that declare it), iproute2, iptables, libnetfilter-queue1 and strace (the partition campaign's network namespace and its lossy and bad
# links, the privacy check's socket
# record; those tests need root, as CI has), afl++ (the fuzz campaign),
# and the Node packages of the independent reference implementations
# (transformers.js for the forged-model, Whisper-feature and Whisper decoding parity checks, openWakeWord's
# models, the AsyncAPI parser).
# Extra arguments go to `dotnet test` (for example --filter FullyQualifiedName~Contract).
set -euo pipefail
cd "$(dirname "$0")"

missing=()
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v mosquitto_rr >/dev/null || missing+=(mosquitto-clients)
command -v opusdec >/dev/null || missing+=(opus-tools)
command -v python3 >/dev/null || missing+=(python3)
/sbin/ldconfig -p | grep 'libmpg123\.so\.0' >/dev/null || missing+=(libmpg123-0) # grep reads it all: no SIGPIPE under pipefail
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
command -v sox >/dev/null || missing+=(sox)
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
command -v ip >/dev/null || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || missing+=(iproute2)
command -v iptables-legacy >/dev/null || [ -x /usr/sbin/iptables-legacy ] || missing+=(iptables)
/sbin/ldconfig -p | grep 'libnetfilter_queue\.so\.1' >/dev/null || missing+=(libnetfilter-queue1)
/sbin/ldconfig -p | grep 'libicuuc\.so\.' >/dev/null || missing+=(libicu72)
command -v strace >/dev/null || missing+=(strace)
command -v afl-fuzz >/dev/null || missing+=(afl++)
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]} (Debian packages)"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

for dir in tools/ModelForge/parity tests/Appliance.Audio.Tests/reference tests/Appliance.Speech.Tests/reference tools/contract-check; do
  # npm ci only when the lock file changed since the last install.
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "test.sh: npm ci in $dir"
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=error --prefix "$dir"
  fi
done

node tools/contract-check/validate.mjs docs/asyncapi.yaml
dotnet test Appliance.sln --filter "Category!=Shared" "$@"

# The fuzz campaign's short version (the README's runs 1,000,000 executions per target): every target, 20,000 each,
# with the sharpfuzz tool of the repository's manifest.
dotnet tool restore >/dev/null
dotnet run --project tools/Fuzz -- campaign --executions 20000 --minutes 5
