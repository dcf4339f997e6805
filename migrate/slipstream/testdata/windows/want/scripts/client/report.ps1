Copy-Item -Path $pwd\data.txt -Destination slipstream\reports\
