# By the VM id. Its deployment, node and index come from the
# SLIPSTREAM_LABELS of its user template.
terraform import 'slipstream_stratuslab_vm.web[0]' 42
