#!/bin/bash -e
# pi-gen, on the build machine: papo's files, units, user and presets (image/lib/layout.sh, as for the amd64 twin),
# then the lean release in /opt/papo/releases/VERSION with its models (image/lib/release.sh), made inside the arm64
# root through qemu-user. 00-packages-nr (written by image/build-pi.sh from image/packages/) installed the runtime
# and, for this step only, the build packages.
"${PAPO_IMAGE_DIR}/lib/layout.sh" "${ROOTFS_DIR}" pi
# llama.cpp for any Pi 4 or 5 (ARMv8.0-A), not for the CPU qemu-user emulates on the build machine.
CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_CPU_ARM_ARCH=armv8-a" PAPO_IMAGE_ONLINE=1 PAPO_IMAGE_UV="${PAPO_UV_AARCH64}" \
	"${PAPO_IMAGE_DIR}/lib/release.sh" deps "${ROOTFS_DIR}"
PAPO_IMAGE_UV="${PAPO_UV_AARCH64}" "${PAPO_IMAGE_DIR}/lib/release.sh" app "${ROOTFS_DIR}" "${PAPO_WHEELS_DIR}"/*.whl
