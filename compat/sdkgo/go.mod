module github.com/imagequota/imagequota/compat/sdkgo

go 1.26.8

require github.com/zenlayer/zenlayercloud-sdk-go v0.2.44
