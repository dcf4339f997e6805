image "debian" {
  descripton = "[2J]0;owned[31mred[0m"
  login_usr  = "admin‮# nimda"
}
