#!/bin/bash -e
# pi-gen, inside the image: the build packages go (nothing to build with stays on the device).
apt-get purge -y --auto-remove g++ make pkg-config libsystemd-dev python3-dev
apt-get clean
