#!/usr/bin/env bash
# contrib/test.sh — on a fresh Debian 12 machine (root or sudo): install what is
# missing, build with warnings as errors and ASan+UBSan, and run every test.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
. contrib/deps.sh

berth_install_deps "${BERTH_BUILD_DEPS[@]}" python3 python3-jsonschema clang libclang-rt-14-dev \
	openssh-server openssh-client openssl docker.io docker-compose libc6-dev
# The compose driver's tests run containers on a real engine.
berth_start_docker

bash contrib/check-style.sh

cmake -S . -B build -DCMAKE_BUILD_TYPE=Debug -DBERTH_WERROR=ON -DBERTH_SANITIZE=ON -DBERTH_TESTS=ON
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j2
