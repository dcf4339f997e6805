#!/bin/sh -xe
# install prerequisites
apt-get clean
apt-get update