# By the VM id (or its name, when one VM has it). Its deployment, node and
# index come from the SLIPSTREAM_LABELS of its user template.
terraform import 'slipstream_opennebula_vm.web[0]' 42
