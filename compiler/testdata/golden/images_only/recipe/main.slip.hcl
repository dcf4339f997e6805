# A recipe without deployment: slipc compiles it to the builds of its
# images, on every cloud that builds images and where an ancestor has an
# id, with each image's id as an output (Packer-like use).

cloud "aws" {
  connector = "ec2"
  region    = "eu-west-1"
}

cloud "private" {
  connector = "openstack"
  cloud     = "mycloud"
}

image "debian" {
  platform = "debian"
  ids = {
    aws     = "ami-0123456789abcdef0"
    private = "7b1f3c2e-5a4d-4e6f-8a9b-0c1d2e3f4a5b"
  }
}

image "runtime" {
  parent      = image.debian
  packages    = ["curl"]
  pre_install = "echo runtime > /etc/runtime"
}

image "app" {
  parent       = image.runtime
  post_install = "echo app > /etc/app"
}
