# A master and N workers. Each worker registers with the master by
# publishing its own address; the master waits until every worker has done
# so, then publishes the cluster's address. Scaling the workers makes the
# master publish the members again.

variable "workers" {
  type        = number
  default     = 3
  description = "Number of worker nodes."
}

cloud "lab" {
  connector = "fixed"
  hosts = {
    master = ["10.200.0.2"]
    worker = ["10.200.0.3", "10.200.0.4", "10.200.0.5", "10.200.0.6"] # room for var.workers up to 4
  }
}

image "debian" {
  platform = "debian"
}

component "master" {
  image = image.debian

  output "url.service" {
    description = "Address of the cluster's API."
  }
  output "members" {
    description = "Space-separated addresses of the registered workers."
  }
  output "scaling" {
    description = "The last scale of the cluster the master took in: vm_add or vm_remove, the node and its instances."
  }

  deploy = file("scripts/master.sh")
  # Scaling the workers runs these on the master (SlipStream's scale hooks).
  on_vm_add    = file("scripts/master-rescan.sh")
  on_vm_remove = file("scripts/master-rescan.sh")
}

component "worker" {
  image = image.debian

  input "master_host" {
    description = "Address of the master."
  }
  output "registered" {
    description = "Set to this worker's address once it has joined."
  }

  deploy = file("scripts/worker.sh")
}

deployment "cluster" {
  node "master" {
    component = component.master
    cloud     = cloud.lab
  }

  node "worker" {
    component    = component.worker
    cloud        = cloud.lab
    multiplicity = var.workers
    inputs = {
      master_host = node.master.hostname
    }
  }
}
