"""dexnet_ros: ROS 2 nodes around dexnet_core (the generated interfaces live in dexnet_ros.msg / .srv)."""
