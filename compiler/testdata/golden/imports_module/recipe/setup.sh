#!/bin/sh
echo "custom setup"
