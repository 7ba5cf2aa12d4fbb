set -e
target_cpu=1; port=18098
source "$(dirname "$0")/one-nginx.sh"
cd /tmp/cg && rm -f cg.*
for r in 200 600; do
valgrind --tool=callgrind --trace-children=yes --callgrind-out-file=/tmp/cg/cg.$r.%p /work/main/target/release/molotov -p 1 -w 50 -r $r -q $dir/plan.mol > /dev/null 2>&1
done
ls -la /tmp/cg
