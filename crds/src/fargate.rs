//! Fargate task sizes: the CPU and memory pairs AWS accepts. The store's
//! `openclaw.fargate_size_valid` function (migrations) encodes the same table.

/// (cpu units, lowest MiB, highest MiB, step MiB), from the ECS developer guide.
pub const SIZES: [(i32, i32, i32, i32); 7] = [
    (256, 512, 2048, 0),
    (512, 1024, 4096, 1024),
    (1024, 2048, 8192, 1024),
    (2048, 4096, 16384, 1024),
    (4096, 8192, 30720, 1024),
    (8192, 16384, 61440, 4096),
    (16384, 32768, 122880, 8192),
];

/// 256 CPU units take exactly 512, 1024 or 2048 MiB; the rest are ranges with a step.
pub fn is_valid(cpu: i32, memory: i32) -> bool {
    match SIZES.iter().find(|s| s.0 == cpu) {
        Some(&(256, ..)) => matches!(memory, 512 | 1024 | 2048),
        Some(&(_, lo, hi, step)) => (lo..=hi).contains(&memory) && (memory - lo) % step == 0,
        None => false,
    }
}

/// A short hint of what memory goes with `cpu`, for error messages.
pub fn describe_valid(cpu: i32) -> String {
    match SIZES.iter().find(|s| s.0 == cpu) {
        Some(&(256, ..)) => "cpu 256 takes memory 512, 1024 or 2048".into(),
        Some(&(c, lo, hi, step)) => format!("cpu {c} takes memory {lo} to {hi} in steps of {step}"),
        None => format!(
            "cpu must be one of {}",
            SIZES
                .iter()
                .map(|s| s.0.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// vCPU and GB of a task size (for cost figures).
pub fn vcpu_and_gb(cpu: i32, memory: i32) -> (f64, f64) {
    (f64::from(cpu) / 1024.0, f64::from(memory) / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_and_invalid_pairs() {
        let cases = [
            (256, 512, true),
            (256, 1024, true),
            (256, 2048, true),
            (256, 1536, false),
            (256, 3072, false),
            (512, 1024, true),
            (512, 4096, true),
            (512, 512, false),
            (1024, 3072, true),
            (1024, 9216, false),
            (2048, 16384, true),
            (4096, 30720, true),
            (4096, 31744, false),
            (8192, 20480, true),
            (8192, 17408, false),
            (16384, 122880, true),
            (16384, 40960, true),
            (16384, 36864, false),
            (100, 512, false),
            (0, 0, false),
            (-256, 512, false),
        ];
        for (cpu, mem, want) in cases {
            assert_eq!(is_valid(cpu, mem), want, "cpu {cpu} memory {mem}");
        }
    }

    #[test]
    fn hints_name_the_valid_range() {
        assert!(describe_valid(1024).contains("2048 to 8192"));
        assert!(describe_valid(3).contains("256, 512"));
    }
}
