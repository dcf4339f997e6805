# By <deployment_id>/<node>. Which machine is which instance comes from the
# coordinator, which the pool told when it started them.
terraform import slipstream_azure_pool.worker grid-0a1b2c3d/worker
