# fn: the two commands. `make demo` and `make test` install what is missing from Debian's
# packages, configure and build with CMake, then run.
BUILD ?= build
JOBS ?= $(shell nproc)
DEB_PACKAGES = cmake make gcc g++ pkg-config libopenblas-dev libopenblas-openmp-dev llvm-14-dev libpng-dev zlib1g-dev libjpeg62-turbo-dev \
               protobuf-c-compiler libprotobuf-c-dev clang libclang-rt-14-dev libhdf5-dev libcairo2-dev fonts-dejavu-core \
               libzip-dev python3-onnx libsvm-dev libopenmpi-dev openmpi-bin

.PHONY: all deps build build-asan test test-asan demo clean
all: build

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" -eq 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DFN_SANITIZE=ON
	cmake --build $(BUILD)-asan -j $(JOBS)

# The suite twice: the optimised build, then the same tests under ASan+UBSan.
test: build build-asan
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(BUILD)-asan && ctest --output-on-failure -j $(JOBS)

test-asan: build-asan
	cd $(BUILD)-asan && ctest --output-on-failure -j $(JOBS)

demo: build
	scripts/demo.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD)-asan demo-out
