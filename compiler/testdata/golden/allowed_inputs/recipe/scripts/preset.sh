#!/bin/sh
ss-set port 8080
