$password = ss-random

net user Administrator $password#1

ss-set windows_username 'Administrator'
ss-set windows_password $password#1


ss-display "Windows-Server-2012 Ready"