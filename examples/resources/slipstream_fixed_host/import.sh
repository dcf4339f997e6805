# <deployment_id>/<node>.<index>/<host>. Nothing runs on the host: the
# agent it runs stays as it is.
terraform import 'slipstream_fixed_host.web[0]' lamp-1a2b3c4d/web.1/10.0.0.11
