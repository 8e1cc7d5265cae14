# The agents-plane golden image for Google Compute Engine: Debian 12, agentd from
# `npm pack` of this repository with its own Node 24, the pinned Node + OpenClaw
# preinstalled for the agentd user, and agentd.service enabled. From the repository
# root (see packer/README.md and docs/image.md):
#
#   images/pack.sh /tmp/agents-plane-pack
#   packer build -var project_id=my-project -var source_tarball=/tmp/agents-plane-pack/agents-plane.tgz packer/agentd.pkr.hcl
#
# Checked (not built) by test/image.test.ts: packer validate and packer fmt -check.
# No required_plugins block: Debian's packer 1.6.6 has googlecompute built in and
# does not know the block; current Packer installs the plugin (packer/README.md).

variable "project_id" {
  type        = string
  description = "GCP project that builds and owns the image."
  validation {
    condition     = regex_replace(var.project_id, "^[a-z][a-z0-9-]{4,28}[a-z0-9]$", "") == ""
    error_message = "The project_id must be a GCP project id: 6-30 lowercase letters, digits or hyphens."
  }
}

variable "zone" {
  type    = string
  default = "europe-west1-b"
  validation {
    condition     = regex_replace(var.zone, "^[a-z]+-[a-z]+[0-9]-[a-z]$", "") == ""
    error_message = "The zone must be a Compute Engine zone such as europe-west1-b."
  }
}

variable "source_tarball" {
  type        = string
  description = "npm pack of this repository, made by images/pack.sh."
  default     = "/tmp/agents-plane-pack/agents-plane.tgz"
}

variable "subnetwork" {
  type        = string
  description = "Subnetwork of the build VM; with omit_external_ip it needs Cloud NAT (apt, npm) and an IAP firewall rule for SSH."
  default     = ""
}

variable "omit_external_ip" {
  type        = bool
  description = "Build without an external IP, reached over an IAP tunnel."
  default     = true
}

variable "image_family" {
  type    = string
  default = "agents-plane-agentd"
  validation {
    condition     = regex_replace(var.image_family, "^[a-z]([-a-z0-9]{0,48}[a-z0-9])?$", "") == ""
    error_message = "The image_family must be a lowercase name of at most 50 characters."
  }
}

variable "source_image_family" {
  type    = string
  default = "debian-12"
}

variable "machine_type" {
  type    = string
  default = "e2-standard-2"
}

variable "disk_size_gb" {
  type    = number
  default = 20
  validation {
    condition     = var.disk_size_gb >= 10
    error_message = "The disk_size_gb must be at least 10 (OpenClaw alone is about 650 MB, Debian about 2 GB)."
  }
}

variable "preinstall" {
  type        = string
  description = "What the image carries in /var/lib/agentd-runtime: all (Node and OpenClaw), node, or none."
  default     = "all"
  validation {
    condition     = contains(["all", "node", "none"], var.preinstall)
    error_message = "The preinstall must be all, node or none."
  }
}

locals {
  stamp = formatdate("YYYYMMDD-hhmmss", timestamp())
}

source "googlecompute" "agentd" {
  project_id              = var.project_id
  zone                    = var.zone
  source_image_family     = var.source_image_family
  source_image_project_id = ["debian-cloud"]
  machine_type            = var.machine_type
  disk_size               = var.disk_size_gb
  disk_type               = "pd-balanced"
  image_name              = "${var.image_family}-${local.stamp}"
  image_family            = var.image_family
  image_description       = "agents-plane agentd golden image (Debian 12, agentd.service enabled)"
  image_labels = {
    "agents-plane" = "agentd"
  }
  enable_secure_boot          = true
  enable_vtpm                 = true
  enable_integrity_monitoring = true
  ssh_username                = "packer"
  tags                        = ["agents-plane-image-build"]
  subnetwork                  = var.subnetwork
  omit_external_ip            = var.omit_external_ip
  use_internal_ip             = var.omit_external_ip
  use_iap                     = var.omit_external_ip
}

build {
  sources = ["source.googlecompute.agentd"]

  provisioner "file" {
    source      = var.source_tarball
    destination = "/tmp/agents-plane.tgz"
  }

  provisioner "file" {
    source      = "${path.root}/../images/provision"
    destination = "/tmp"
  }

  provisioner "shell" {
    execute_command = "sudo -E env {{ .Vars }} bash '{{ .Path }}'"
    environment_vars = [
      "AP_SOURCE_TARBALL=/tmp/agents-plane.tgz",
      "AP_PREINSTALL=${var.preinstall}",
    ]
    inline = [
      "set -e",
      "for s in /tmp/provision/[0-9]*.sh; do bash \"$s\"; done",
    ]
  }

  post-processor "manifest" {
    output     = "packer-manifest.json"
    strip_path = true
    custom_data = {
      image_family = var.image_family
      preinstall   = var.preinstall
    }
  }
}
