use lifecycle::Component;

#[derive(Component)]
struct Metrics;

fn main() {}
