image "café" {}
