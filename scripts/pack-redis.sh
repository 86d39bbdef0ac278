#!/usr/bin/env bash
# Packs Debian's redis-server and the shared libraries it needs (all but the C library's own)
# into .gpu-host/redis/, for a GPU host without Redis (bench/worker-overhead.ts). There:
#   TANDEM_REDIS_SERVER=.gpu-host/redis/redis-server bash .gpu-host/run.sh node dist/bench/worker-overhead.js
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
src=$(readlink -f "$(command -v redis-server)")
out=.gpu-host/redis
rm -rf "$out" && mkdir -p "$out/lib"
cp "$src" "$out/redis-server.bin"
ldd "$src" | awk '/=> \// {print $3}' | grep -vE '/(libc|libm|libpthread|libdl|librt)\.so' | xargs -I{} cp -L {} "$out/lib/"
cat >"$out/redis-server" <<'SH'
#!/usr/bin/env bash
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$here/redis-server.bin" "$@"
SH
chmod +x "$out/redis-server"
du -sh "$out" | awk '{print "packed redis-server: " $1}' >&2
