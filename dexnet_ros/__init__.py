"""dexnet_ros: ROS 2 nodes around dexnet_core (the generated interfaces live in dexnet_ros.msg / .srv)."""

# When the source tree is first on sys.path (running from a checkout), the generated dexnet_ros.msg and
# dexnet_ros.srv modules live in the installed copy of this package: search both.
__path__ = __import__("pkgutil").extend_path(__path__, __name__)
