# A deployment is imported by its id at the coordinator. The instances'
# tokens cannot be read back (only their hashes are kept).
terraform import slipstream_deployment.lamp lamp-1a2b3c4d
