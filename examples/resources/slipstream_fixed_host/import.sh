# <deployment_id>/<node>.<index>/<host>. The bootstrap runs again on the
# next apply (it is not read back), which the agent takes in its stride.
terraform import 'slipstream_fixed_host.web[0]' lamp-1a2b3c4d/web.1/10.0.0.11
