# Certificates (DNS-validated in the hosted zone) and the records:
#   domain_name         -> CloudFront (primary only)
#   origin.domain_name  -> this region's ALB, failover routing: the primary's
#                          record first, the standby's when the primary's ALB
#                          has no healthy target.

# The ALB's certificate, in this region, for the origin name.
resource "aws_acm_certificate" "origin" {
  domain_name       = local.origin_domain
  validation_method = "DNS"
  lifecycle {
    create_before_destroy = true
  }
}

# CloudFront's certificate must be in us-east-1.
resource "aws_acm_certificate" "edge" {
  count             = local.primary ? 1 : 0
  region            = "us-east-1"
  domain_name       = var.domain_name
  validation_method = "DNS"
  lifecycle {
    create_before_destroy = true
  }
}

locals {
  validations = merge(
    { for o in aws_acm_certificate.origin.domain_validation_options : "origin:${o.domain_name}" => o },
    { for o in flatten(aws_acm_certificate.edge[*].domain_validation_options) : "edge:${o.domain_name}" => o },
  )
}

resource "aws_route53_record" "validation" {
  for_each        = local.validations
  zone_id         = var.hosted_zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "origin" {
  certificate_arn         = aws_acm_certificate.origin.arn
  validation_record_fqdns = [for k, r in aws_route53_record.validation : r.fqdn if startswith(k, "origin:")]
}

resource "aws_acm_certificate_validation" "edge" {
  count                   = local.primary ? 1 : 0
  region                  = "us-east-1"
  certificate_arn         = aws_acm_certificate.edge[0].arn
  validation_record_fqdns = [for k, r in aws_route53_record.validation : r.fqdn if startswith(k, "edge:")]
}

resource "aws_route53_record" "origin" {
  zone_id        = var.hosted_zone_id
  name           = local.origin_domain
  type           = "A"
  set_identifier = var.region

  failover_routing_policy {
    type = local.primary ? "PRIMARY" : "SECONDARY"
  }

  alias {
    name                   = aws_lb.main.dns_name
    zone_id                = aws_lb.main.zone_id
    evaluate_target_health = true
  }
}

resource "aws_route53_record" "edge" {
  for_each = local.primary ? toset(["A", "AAAA"]) : toset([])
  zone_id  = var.hosted_zone_id
  name     = var.domain_name
  type     = each.key

  alias {
    name                   = aws_cloudfront_distribution.main[0].domain_name
    zone_id                = aws_cloudfront_distribution.main[0].hosted_zone_id
    evaluate_target_health = false
  }
}
