// Selection cost with many accounts, pools and globs, against two accounts:
// what choosing an account adds to each request (release build:
// `swift build -c release --product selection-bench && .build/release/selection-bench`).
import Foundation
import Policy
import SwitchboardCore

/// Nanoseconds per call of `body`, over `count` calls after a warm-up.
func nanoseconds(_ count: Int, _ body: (Int) -> Void) -> Double {
    for index in 0..<min(count, 10_000) { body(index) }
    let clock = ContinuousClock()
    let elapsed = clock.measure { for index in 0..<count { body(index) } }
    let (seconds, attoseconds) = elapsed.components
    return (Double(seconds) * 1e9 + Double(attoseconds) / 1e9) / Double(count)
}

func account(_ id: Int, models: [String], pools: [String] = []) -> AccountEntry {
    var entry = AccountEntry(
        id: Int64(id), name: "account-\(id)", provider: id % 3 == 0 ? .anthropic : .openai, baseURL: "http://127.0.0.1:9",
        secret: "s", models: models, priority: id % 4)
    entry.options.pools = pools.isEmpty ? nil : pools
    return entry
}

// Two accounts, exact names, no pools: today's small gateway.
let small = AccountDirectory(accounts: [account(1, models: ["family-7-large"]), account(2, models: ["family-7-large"])])
// 1,000 accounts in 50 pools of 20; 200 glob models (`family-N-*`), each pool's accounts listing 4 of them.
let large = AccountDirectory(
    accounts: (1...1000).map { id in account(id, models: (0..<4).map { "family-\((id % 50) * 4 + $0)-*" }, pools: ["pool-\(id % 50)"]) })
let binding = AccountBinding(pools: ["pool-7"])
let models = (0..<200).map { "family-\($0)-large" }
let iterations = 1_000_000

nonisolated(unsafe) var sink = 0
func use(_ selection: Selection) {
    if case .candidates(let first, let then) = selection { sink &+= first.count &+ then.count }
}

print("selection, per request (ns):")
let smallSelect = nanoseconds(iterations) { _ in use(small.select(model: "family-7-large", dialect: .openAIChat, translate: true)) }
print(String(format: "  2 accounts, exact names                          %8.0f", smallSelect))
let largeSelect = nanoseconds(iterations) { index in
    use(large.select(model: models[index % 200], dialect: .openAIChat, translate: true, scope: .bound(binding)))
}
print(String(format: "  1,000 accounts, 50 pools, 200 globs (bound key)  %8.0f", largeSelect))
let largeShared = nanoseconds(iterations) { index in
    use(large.select(model: models[index % 200], dialect: .openAIChat, translate: true, scope: .sharedBeside(binding)))
}
print(String(format: "  same, its shared fallback scope                  %8.0f", largeShared))
let miss = nanoseconds(20_000) { index in sink &+= large.listing("family-\(index % 200)-x\(index)").count }
print(String(format: "  a model name seen for the first time (200 globs) %8.0f", miss))

// The pool's pick among the candidates, with the lease given back.
func pickCost(_ directory: AccountDirectory, scope: SelectionScope, model: String) -> Double {
    let pool = AccountPool()
    guard case .candidates(let candidates, _) = directory.select(model: model, dialect: .openAIChat, translate: true, scope: scope) else {
        return .nan
    }
    return nanoseconds(iterations / 4) { _ in
        if case .lease(let lease, _) = pool.pick(from: candidates) { lease.finish(.served(tokens: 10)) }
    }
}
print("pick and release among the candidates (ns):")
print(String(format: "  2 accounts                                       %8.0f", pickCost(small, scope: .shared, model: "family-7-large")))
let bound = large.select(model: "family-28-large", dialect: .openAIChat, translate: true, scope: .bound(binding))
if case .candidates(let first, _) = bound {
    print(
        String(
            format: "  1,000 accounts, the bound pool's %2d candidates    %8.0f", first.count,
            pickCost(large, scope: .bound(binding), model: "family-28-large")))
}
if sink == 42 { print("") }
