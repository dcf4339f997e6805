# By the VM uuid. Its deployment, node and index come from its
# slipstream-* tags.
terraform import 'slipstream_cloudstack_instance.web[0]' 0b3d3a24-5a1e-4c4b-9d0f-3c3a6d2b1e7f
