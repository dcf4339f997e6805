# By the instance id. Its deployment, node and index come from its
# slipstream-* tags; the next apply records the configuration's sizing
# without replacing the machine.
terraform import 'slipstream_ec2_instance.web[0]' i-0123456789abcdef0
