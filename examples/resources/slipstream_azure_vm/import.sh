# By the VM's resource id. Its deployment, node and index come from its
# slipstream-* tags.
terraform import 'slipstream_azure_vm.web[0]' /subscriptions/8f4c2d1e-3b5a-4c6d-9e7f-0a1b2c3d4e5f/resourceGroups/slipstream-lamp-1a2b3c4d/providers/Microsoft.Compute/virtualMachines/lamp-1a2b3c4d-web-1
