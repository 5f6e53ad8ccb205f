# Makes one custom image on imagequota with the Zenlayer Cloud provider, and
# removes it on terraform destroy. The endpoint and the credentials come from
# the environment (see docs/clients/terraform.md):
#   ZENLAYERCLOUD_DOMAIN=127.0.0.1:8080 ZENLAYERCLOUD_SCHEME=HTTP
#   ZENLAYERCLOUD_ACCESS_KEY_ID=… ZENLAYERCLOUD_ACCESS_KEY_PASSWORD=…
# or from the provider block's domain, scheme, access_key_id and
# access_key_password arguments.

terraform {
  required_providers {
    zenlayercloud = {
      source = "zenlayer/zenlayercloud"
    }
  }
}

provider "zenlayercloud" {}

variable "instance_id" {
  description = "The instance to make the image from (imagequota admin instance create prints one)."
  type        = string
}

resource "zenlayercloud_zvm_image" "web" {
  instance_id       = var.instance_id
  image_name        = "web-image"
  image_description = "made by terraform"
}

output "image_id" {
  value = zenlayercloud_zvm_image.web.id
}

output "image_size" {
  value = zenlayercloud_zvm_image.web.image_size
}
