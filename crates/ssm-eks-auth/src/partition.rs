//! Which STS host serves a region: `sts.{region}.{partition DNS suffix}`,
//! the partition told by the region's prefix as in the SDKs' partition
//! table (aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, aws-iso-e,
//! aws-iso-f, aws-eusc).

/// Region prefixes of the partitions whose DNS suffix is not
/// `amazonaws.com`, longest first where one prefix starts another.
const SUFFIX_BY_PREFIX: &[(&str, &str)] = &[
    ("cn-", "amazonaws.com.cn"),
    ("us-isob-", "sc2s.sgov.gov"),
    ("us-isof-", "csp.hci.ic.gov"),
    ("us-iso-", "c2s.ic.gov"),
    ("eu-isoe-", "cloud.adc-e.uk"),
    ("eusc-", "amazonaws.eu"),
];

/// The DNS suffix of `region`'s partition: `amazonaws.com` for the
/// commercial regions and GovCloud (`us-gov-*`), `amazonaws.com.cn` for
/// `cn-*`, `c2s.ic.gov` for `us-iso-*`, `sc2s.sgov.gov` for `us-isob-*`,
/// and so on.
pub fn dns_suffix(region: &str) -> &'static str {
    SUFFIX_BY_PREFIX
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("amazonaws.com", |(_, suffix)| suffix)
}

/// The regional STS endpoint host of `region`, e.g.
/// `sts.eu-west-1.amazonaws.com`.
pub fn sts_host(region: &str) -> String {
    format!("sts.{region}.{}", dns_suffix(region))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_partition_has_its_domain() {
        let cases = [
            ("eu-west-1", "sts.eu-west-1.amazonaws.com"),
            ("us-east-1", "sts.us-east-1.amazonaws.com"),
            ("cn-north-1", "sts.cn-north-1.amazonaws.com.cn"),
            ("cn-northwest-1", "sts.cn-northwest-1.amazonaws.com.cn"),
            ("us-gov-west-1", "sts.us-gov-west-1.amazonaws.com"),
            ("us-iso-east-1", "sts.us-iso-east-1.c2s.ic.gov"),
            ("us-isob-east-1", "sts.us-isob-east-1.sc2s.sgov.gov"),
            ("us-isof-south-1", "sts.us-isof-south-1.csp.hci.ic.gov"),
            ("eu-isoe-west-1", "sts.eu-isoe-west-1.cloud.adc-e.uk"),
            ("eusc-de-east-1", "sts.eusc-de-east-1.amazonaws.eu"),
        ];
        for (region, host) in cases {
            assert_eq!(sts_host(region), host, "{region}");
        }
    }
}
