"""`python -m dexnet_ros.demo` (what `make demo` runs): rendered tray scene -> heatmap node -> grasps.

Starts the installed ``demo_source`` and ``heatmap_node`` executables with the package's
config/*.yaml and a model (default: the shipped default for the gripper), the node planning on the
source's object mask (``use_mask``), waits for planned grasps,
prints the best ones as a table, writes the overlay PNG, then stops both nodes with SIGINT.
Exit status 0, or 1 with one line on stderr when no grasps arrive in time.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

# DDS stays on this machine (the Makefile exports the same values): localhost discovery, SHM-only profile.
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
os.environ.setdefault("AMENT_PREFIX_PATH", sys.prefix)  # `make build` installs into the venv prefix

NODES = ("demo_source", "heatmap_node")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m dexnet_ros.demo", description=__doc__.splitlines()[0])
    p.add_argument("--gripper", choices=("parallel_jaw", "suction"), default="parallel_jaw")
    p.add_argument("--model", default="", help="checkpoint path or shipped model name (default: the "
                                                "shipped default for --gripper)")
    p.add_argument("--out", default="out/demo", help="folder for the overlay PNG and the node logs")
    p.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for grasps")
    p.add_argument("--image-scale", type=float, default=1.0, help="demo image size relative to 640x480")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    return p.parse_args(argv)


def start_nodes(args: argparse.Namespace, out: Path) -> dict[str, tuple[subprocess.Popen, Path]]:
    """Start both installed executables with the installed config/*.yaml; logs go to ``out``."""
    from ament_index_python.packages import get_package_prefix, get_package_share_directory

    lib = Path(get_package_prefix("dexnet_ros")) / "lib" / "dexnet_ros"
    config = Path(get_package_share_directory("dexnet_ros")) / "config"
    os.environ.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", str(config / "fastdds_shm.xml"))
    extra = {
        "demo_source": ["-p", f"image_scale:={args.image_scale}"],
        "heatmap_node": ["-p", f"gripper:={args.gripper}", "-p", f"device:={args.device}",
                         "-p", "use_mask:=true"],  # grasp centres on the objects demo_source segments
    }
    if args.model:  # an empty override does not parse; the YAML's "" already means the shipped default
        extra["heatmap_node"] += ["-p", f"model:={args.model}"]
    procs = {}
    for name in NODES:
        params = config / ("heatmap.yaml" if name == "heatmap_node" else "demo_source.yaml")
        log = out / f"{name}.log"
        with open(log, "w") as f:
            procs[name] = (subprocess.Popen([str(lib / name), "--ros-args", "--params-file", str(params),
                                             *extra[name]], stdout=f, stderr=subprocess.STDOUT), log)
    return procs


def stop_nodes(procs: dict[str, tuple[subprocess.Popen, Path]]) -> dict[str, int]:
    """SIGINT both nodes; returns their exit codes (killed after 60 s: a CPU plan in progress finishes
    first; a node killed so writes its threads' stacks to its log first)."""
    for proc, _ in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    codes = {}
    for name, (proc, _) in procs.items():
        try:
            codes[name] = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGUSR1)
            time.sleep(1.0)
            proc.kill()
            codes[name] = proc.wait()
    return codes


def grasp_table(grasps) -> str:
    """Text table of dexnet_ros/Grasp messages."""
    lines = [f"{'#':>2} {'q':>6} {'type':<12} {'u':>6} {'v':>6} {'angle':>6} {'depth':>6} "
             f"{'x':>7} {'y':>7} {'z':>6}",
             f"{'':>2} {'':>6} {'':<12} {'px':>6} {'px':>6} {'deg':>6} {'m':>6} {'m':>7} {'m':>7} {'m':>6}"]
    for i, g in enumerate(grasps):
        kind = "suction" if g.grasp_type == g.SUCTION else "parallel_jaw"
        p = g.pose.position
        lines.append(f"{i + 1:>2} {g.q_value:6.3f} {kind:<12} {g.center_px[0]:6.1f} {g.center_px[1]:6.1f} "
                     f"{math.degrees(g.angle):6.1f} {g.depth:6.3f} {p.x:7.3f} {p.y:7.3f} {p.z:6.3f}")
    return "\n".join(lines)


def wait_for_grasps(procs, timeout: float):
    """Spin a listener until a non-empty GraspArray and the overlay of the same frame arrive.

    Returns (GraspArray, overlay Image) or raises RuntimeError with the reason.
    """
    import rclpy
    from sensor_msgs.msg import Image

    from dexnet_ros.msg import GraspArray

    got: dict[str, dict] = {"grasps": {}, "color": {}}
    context = rclpy.Context()
    rclpy.init(context=context, signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
    node = rclpy.create_node("dexnet_demo", context=context)
    try:
        key = lambda m: (m.header.stamp.sec, m.header.stamp.nanosec)  # noqa: E731
        node.create_subscription(GraspArray, "/grasps",
                                 lambda m: m.grasps and got["grasps"].__setitem__(key(m), m), 5)
        node.create_subscription(Image, "/grasp_heatmap/color",
                                 lambda m: got["color"].__setitem__(key(m), m), 5)
        executor = rclpy.executors.SingleThreadedExecutor(context=context)
        executor.add_node(node)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.1)
            both = sorted(set(got["grasps"]) & set(got["color"]))
            if both:
                return got["grasps"][both[-1]], got["color"][both[-1]]
            for name, (proc, log) in procs.items():
                if proc.poll() is not None:
                    last = (log.read_text().strip().splitlines() or ["(no output)"])[-1]
                    raise RuntimeError(f"{name} exited with status {proc.returncode}: {last}")
        logs = procs["heatmap_node"][1].parent
        raise RuntimeError(f"no grasps within {timeout:.0f} s (node logs in {logs}/)")
    finally:
        node.destroy_node()
        context.try_shutdown()


def main(argv: list[str] | None = None) -> int:
    """Run the demo; 0 on success, 1 (one line on stderr) when no grasps arrive."""
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sys.stdout.write(f"starting demo_source and heatmap_node ({args.gripper}, model "
                     f"{args.model or 'shipped default'}); logs in {out}/\n")
    procs = start_nodes(args, out)
    try:
        grasps, color = wait_for_grasps(procs, args.timeout)
    except RuntimeError as exc:
        stop_nodes(procs)
        sys.stderr.write(f"demo: {exc}\n")
        return 1
    except KeyboardInterrupt:
        stop_nodes(procs)
        return 130
    codes = stop_nodes(procs)
    from dexnet_core.planning.overlay import save_png
    from dexnet_ros.conversions import image_to_rgb
    from dexnet_ros.spin import TEARDOWN_TIMEOUT_S, teardown_timed_out

    png = save_png(out / "overlay.png", image_to_rgb(color))
    sys.stdout.write(f"best grasps on frame {grasps.header.stamp.sec}.{grasps.header.stamp.nanosec:09d} "
                     f"(optical frame '{grasps.header.frame_id}'):\n{grasp_table(grasps.grasps)}\n"
                     f"overlay: {png}\n")
    stuck = [name for name, (_, log) in procs.items()
             if codes[name] == 1 and teardown_timed_out(log.read_text(errors="replace"))]
    for name in stuck:
        sys.stderr.write(f"demo: warning: {name} stopped but its teardown passed {TEARDOWN_TIMEOUT_S:.0f} s "
                         f"(stuck in the middleware; its stacks are in {procs[name][1]})\n")
    if any(code for name, code in codes.items() if name not in stuck):
        sys.stderr.write(f"demo: nodes exited with {codes} after SIGINT (node logs in {out}/)\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
