#!/usr/bin/env bash
# bench/gpu.sh: `python -m bench peer` on an NVIDIA GPU, both sides offloaded.
#
# What it builds: llama.cpp as vendored by llama-cpp-python 0.3.36, with CUDA for
# compute capability 9.0 (H100/H200), shared libraries (libllama, libggml*) for the
# engine's llama-cpp-python and, linked to those very libraries, llama-server and
# llama-batched-bench for the peer: both sides run the same kernels.
#
# Two steps, because the GPU machine has no network and little time:
#
#   bench/gpu.sh pack   here, on any x86-64 Linux with CUDA 13.0's nvcc and pip (1.5
#                       hours on the 2-core VM beside other work, most of it nvcc on 144
#                       kernel files; ninja resumes where it stopped): downloads the
#                       llama-cpp-python sdist and cuBLAS headers, builds with CUDA, and
#                       packs into .gpu/carry (54 MiB, 41 of them libggml-cuda; ignored
#                       by git: .git/info/exclude): the built binaries, a source subset
#                       to build again there if those do not run, wheels the device's
#                       Python lacks, a snapshot of bot/ and bench/ (HEAD) with
#                       llama-cpp-python's Python package, and a tiny random model
#                       holding SmolLM2's tokenizer and chat template.
#   bench/gpu.sh run    there, from the repository root with .gpu/carry beside it (about
#                       6 to 8 minutes): checks the binaries see the GPU (else builds
#                       them there: about 5 minutes on 16 cores), writes two random-weight
#                       models (bench/random_model.py: a 1.1 B-parameter Q8_0 Llama, and
#                       one with SmolLM2-135M-Instruct.Q4_1's exact shapes and types), then
#                       runs `python -m bench peer --json` with N_GPU_LAYERS=-1 (the server
#                       gets -ngl all) on each, alternating, as many runs as fit before
#                       GPU_DEADLINE_S (default 480 s after the start).
#
# `run` reads GPU_MODELS (random_model presets, default "1b smollm2-135m"), GPU_LAYERS
# (default -1: all), GPU_PYTHON (default python3), GPU_CHECK=0 (skip the GPU check) and
# GPU_DEADLINE_S: with GPU_LAYERS=0 GPU_CHECK=0 GPU_MODELS=tiny it runs on any CPU.
#
# Everything it prints goes to $OUT/gpu.log; each run's JSON is one line of
# $OUT/peer-<model>.jsonl; $OUT/gpu-monitor.txt samples the GPU's load and memory.
# With the device tool: carry [".gpu/carry"], command `GPU_DEADLINE_S=500 bash bench/gpu.sh
# run`, timeout 560 s. bench/RESULTS.md's GPU section says what it measured.
set -uo pipefail

cd "$(dirname "$0")/.." || exit
root=$PWD
carry=${GPU_CARRY:-$root/.gpu/carry}
version=0.3.36
targets=(llama-server llama-batched-bench llama)
started=$SECONDS

say() { echo "[$((SECONDS - started)) s] $*"; }

# The CMake flags of both builds (here and there): Release, CUDA for sm_90 only, shared
# libraries that find each other beside themselves, no UI, curl or OpenSSL, and the
# CPU part for any x86-64 with AVX2 (the machine that builds is not the one that runs).
cuda_flags() {
  local cublas_inc=$1 cublas_lib=$2 cuda_stub=$3
  echo -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DBUILD_SHARED_LIBS=ON \
    -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
    -DGGML_BMI2=ON -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON "-DCMAKE_INSTALL_RPATH=\$ORIGIN" \
    "-DCUDA_cublas_LIBRARY=$cublas_lib/libcublas.so.13" \
    "-DCUDA_cublasLt_LIBRARY=$cublas_lib/libcublasLt.so.13" \
    "-DCUDA_cuda_driver_LIBRARY=$cuda_stub" \
    "-DCMAKE_CUDA_FLAGS=-I$cublas_inc" "-DCMAKE_CXX_FLAGS=-I$cublas_inc"
}

# build_cuda SRC BUILD CUBLAS_INCLUDE CUBLAS_LIB CUDA_STUB JOBS
build_cuda() {
  local nvcc=/usr/local/cuda/bin/nvcc
  [ -x "$nvcc" ] || nvcc=$(command -v nvcc)
  # shellcheck disable=SC2046  # the flags are words without spaces
  cmake -S "$1" -B "$2" -G Ninja -DCMAKE_CUDA_COMPILER="$nvcc" \
    $(cuda_flags "$3" "$4" "$5") || return
  # Linking the programs, ld looks for libggml-cuda's own needs (cuBLAS, libcuda.so.1).
  mkdir -p "$2/cuda-stub" && ln -sf "$5" "$2/cuda-stub/libcuda.so.1" || return
  LD_LIBRARY_PATH="$4:$2/cuda-stub${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    cmake --build "$2" --target "${targets[@]}" -j "$6"
}

# The GPU driver's libcuda, for linking only (the real one is found when running): the
# driver API calls ggml-cuda makes (its virtual memory pool).
make_cuda_stub() {
  local out=$1 f
  mkdir -p "$(dirname "$out")"
  for f in cuMemUnmap cuMemSetAccess cuMemRelease cuMemMap cuMemGetAllocationGranularity \
      cuMemCreate cuMemAddressReserve cuMemAddressFree cuGetErrorString \
      cuDeviceGetAttribute cuDeviceGet; do
    echo "int $f(void) { return 999; }"
  done >"$out.c"
  gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$out" "$out.c"
}

pack() {
  local work=$root/.gpu/work py=${PYTHON:-$root/.venv/bin/python}
  mkdir -p "$work" "$carry/whl"
  cd "$work" || return
  if [ ! -f sdist/llama_cpp_python-$version.tar.gz ]; then
    pip download --no-binary :all: --no-deps "llama-cpp-python==$version" -d sdist || return
  fi
  if [ ! -d cublas/x/nvidia/cu13 ]; then
    pip download --no-deps --only-binary=:all: --platform manylinux_2_27_x86_64 \
      --python-version 3.12 "nvidia-cublas==13.0.2.14" -d cublas || return
    (mkdir -p cublas/x && cd cublas/x && unzip -q ../nvidia_cublas-*.whl) || return
  fi
  [ -d src/llama_cpp_python-$version ] ||
    { mkdir -p src && tar xzf sdist/llama_cpp_python-$version.tar.gz -C src; } || return
  local vendor=src/llama_cpp_python-$version/vendor
  [ -f stub/libcuda.so ] || make_cuda_stub "$work/stub/libcuda.so" || return
  say "building with CUDA (an hour or more on 2 cores)"
  build_cuda "$work/$vendor/llama.cpp" "$work/build-cuda" "$work/cublas/x/nvidia/cu13/include" \
    "$work/cublas/x/nvidia/cu13/lib" "$work/stub/libcuda.so" "$(nproc)" >build-cuda.log 2>&1 ||
    { tail -20 build-cuda.log; return 1; }
  say "packing into $carry"
  rm -rf pack && mkdir -p pack/bin pack/extra && cp -a build-cuda/bin/llama-server \
    build-cuda/bin/llama-batched-bench build-cuda/bin/lib*.so* pack/bin/ || return
  # OpenMP's runtime, used there only if that machine lacks one.
  cp -L "$(gcc -print-file-name=libgomp.so.1)" pack/extra/ || return
  tar cJf "$carry/cuda-bin.tar.xz" -C pack bin extra || return
  # The source again, without UIs, docs, models or other backends (4.5 MiB).
  tar cJf "$carry/llama.cpp-src.tar.xz" -C "$vendor" \
    --exclude=llama.cpp/tools/ui/src --exclude=llama.cpp/tools/ui/tests \
    --exclude=llama.cpp/tools/ui/package-lock.json --exclude=llama.cpp/models \
    --exclude=llama.cpp/docs --exclude=llama.cpp/media --exclude=llama.cpp/gguf-py \
    --exclude=llama.cpp/tests --exclude=llama.cpp/examples --exclude=llama.cpp/benches \
    --exclude=llama.cpp/pocs \
    --exclude='llama.cpp/ggml/src/ggml-'{vulkan,sycl,opencl,metal,hexagon,et,webgpu} \
    --exclude='llama.cpp/ggml/src/ggml-'{openvino,cann,virtgpu,zdnn,musa,hip} \
    llama.cpp || return
  cp stub/libcuda.so "$carry/libcuda-stub.so" || return
  # The code that runs there: bot/ and bench/ as committed (HEAD), and the Python half of
  # llama-cpp-python (its libraries come from the build).
  rm -rf code && mkdir -p code && git -C "$root" archive HEAD bot bench | tar x -C code &&
    git -C "$root" rev-parse HEAD >code/COMMIT &&
    cp -a "src/llama_cpp_python-$version/llama_cpp" code/ && rm -rf code/llama_cpp/server &&
    tar cJf "$carry/code.tar.xz" -C code . || return
  (cd "$root" && "$py" -m bench.random_model "$carry/tokenizer.gguf" --preset tiny) || return
  # Wheels the device's Python 3.12 lacks (README of the device: its Notes).
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d "$carry/whl" pydantic==2.14.4 pydantic_core==2.50.5 \
    pydantic-settings==2.16.3 annotated-types==0.8.0 typing-inspection==0.4.5 \
    python-dotenv==1.2.4 diskcache==5.6.3 typing_extensions==4.16.0 gguf==0.19.0 || return
  du -sh "$carry"
}

# Folders holding the CUDA runtime and cuBLAS 13 there (the toolkit's, then Python's).
cuda_lib_dirs() {
  find /usr/local/cuda*/ /usr/lib/x86_64-linux-gnu /opt -maxdepth 10 \
    \( -name 'libcublas.so.13*' -o -name 'libcudart.so.13*' \) -printf '%h\n' 2>/dev/null |
    awk '!seen[$0]++' | paste -sd:
}

# Whether the libraries see the GPU: the server lists it, and llama-cpp-python offloads
# every layer of the tiny model and decodes with it.
gpu_ok() {
  local seen=$work/gpu-ok.txt
  "$bin/llama-server" --list-devices >"$seen" 2>&1
  cat "$seen"
  grep -q CUDA0 "$seen" || return
  timeout 120 "$py" - "$carry/tokenizer.gguf" >"$seen" 2>&1 <<'PY'

import sys
import llama_cpp
assert llama_cpp.llama_supports_gpu_offload(), "llama-cpp-python cannot offload"
llm = llama_cpp.Llama(sys.argv[1], n_gpu_layers=-1, n_ctx=256, verbose=True)
out = llm.create_completion("Hello", max_tokens=8, temperature=0.0)
assert out["usage"]["completion_tokens"] == 8
print("llama-cpp-python decoded on the GPU")
PY
  grep -E "CUDA|offload|error|Error|decoded" "$seen"
  grep -q "llama-cpp-python decoded on the GPU" "$seen"
}

monitor() {
  while sleep 3; do
    date +%T
    nvidia-smi --query-gpu=utilization.gpu,memory.used,clocks.sm --format=csv,noheader
    nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv,noheader
  done
}

run() {
  local out=${OUT:-/tmp/causette-gpu-out}
  work=${GPU_WORK:-/tmp/causette-gpu}
  local deadline=${GPU_DEADLINE_S:-480} layers=${GPU_LAYERS:--1}
  local -a models
  read -ra models <<<"${GPU_MODELS:-1b smollm2-135m}"
  py=${GPU_PYTHON:-python3}
  mkdir -p "$out" "$work/site" "$work/code" "$work/models"
  log=$out/gpu.log
  exec > >(tee -a "$log") 2>&1
  say "bench/gpu.sh run: $(hostname), $(nproc) cores, deadline ${deadline} s"
  nvidia-smi >"$out/nvidia-smi.txt" 2>&1
  head -12 "$out/nvidia-smi.txt"
  { command -v nvcc && nvcc --version | tail -2; "$py" --version; } 2>&1
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$work/site" "$carry"/whl/*.whl || return
  tar xJf "$carry/code.tar.xz" -C "$work/code" && tar xJf "$carry/cuda-bin.tar.xz" -C "$work" ||
    return
  bin=$work/bin
  ln -sfn "$bin" "$work/code/llama_cpp/lib"
  export LLAMA_CPP_LIB_PATH=$bin PYTHONPATH=$work/code:$work/site PYTHONUNBUFFERED=1
  LD_LIBRARY_PATH=$(cuda_lib_dirs)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export LD_LIBRARY_PATH
  say "CUDA libraries: $LD_LIBRARY_PATH"
  if ldd "$bin/libggml-cpu.so" | grep -q 'libgomp.*not found'; then
    LD_LIBRARY_PATH+=:$work/extra
  fi
  ldd "$bin/llama-server" "$bin/libggml-cuda.so" | grep -E 'libcu|not found'
  say "code: commit $(cat "$work/code/COMMIT")"
  cd "$work/code" || return  # python -m bench: this snapshot, not the checkout's bench/
  if [ "${GPU_CHECK:-1}" = 0 ] || gpu_ok; then
    say "the binaries built here run there"
  else
    say "the carried binaries do not run: building there, $(nproc) jobs"
    rm -rf "$work/src" && mkdir -p "$work/src" &&
      tar xJf "$carry/llama.cpp-src.tar.xz" -C "$work/src"
    local inc lib
    inc=$(dirname "$(find /usr/local/cuda*/ /opt -name cublas_v2.h 2>/dev/null | head -1)")
    lib=$(dirname "$(find /usr/local/cuda*/ /opt -name 'libcublas.so.13*' 2>/dev/null | head -1)")
    build_cuda "$work/src/llama.cpp" "$work/build" "$inc" "$lib" "$carry/libcuda-stub.so" \
      "$(nproc)" >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; return 1; }
    rm -rf "$bin" && cp -a "$work/build/bin" "$bin" && ln -sfn "$bin" "$work/code/llama_cpp/lib"
    say "built there"
    gpu_ok || { say "still no GPU: giving up"; return 1; }
  fi
  monitor >"$out/gpu-monitor.txt" 2>&1 &
  local watcher=$!
  local -A last=()
  local name model took round=0 ran=1 t0
  for name in "${models[@]}"; do
    say "writing the random model $name"
    "$py" -m bench.random_model "$work/models/random-$name.gguf" --preset "$name" \
      --source "$carry/tokenizer.gguf" || return
    last[$name]=90
  done
  last[1b]=150
  while [ "$ran" = 1 ]; do
    ran=0
    round=$((round + 1))
    for name in "${models[@]}"; do
      model=$work/models/random-$name.gguf
      if [ $((SECONDS - started + ${last[$name]} + 10)) -gt "$deadline" ]; then
        say "no time left for $name run $round (the last took ${last[$name]} s)"
        continue
      fi
      say "bench peer, $name, run $round"
      t0=$SECONDS
      if MODEL_PATH=$model N_GPU_LAYERS=$layers timeout $((deadline - (SECONDS - started))) \
          "$py" -m bench peer --json --bin-dir "$bin" >"$work/peer.json"; then
        cat "$work/peer.json" >>"$out/peer-$name.jsonl"
        "$py" -c 'import json, sys; from bench.peer import table
print(table(json.load(open(sys.argv[1]))))' "$work/peer.json"
        ran=1
      else
        say "bench peer failed on $name"
      fi
      took=$((SECONDS - t0))
      last[$name]=$took
      say "$name run $round took $took s"
    done
  done
  kill "$watcher" 2>/dev/null
  say "done"
}

case ${1:-run} in
  pack) pack ;;
  run) run ;;
  *) echo "usage: bench/gpu.sh [pack|run]" >&2; exit 2 ;;
esac
