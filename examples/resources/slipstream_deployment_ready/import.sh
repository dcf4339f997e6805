# Imported by the deployment id; reading it fills in the parameters.
terraform import slipstream_deployment_ready.lamp lamp-1a2b3c4d
