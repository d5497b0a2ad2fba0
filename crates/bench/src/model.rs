//! The generated organisation, built in memory from a fixed seed: the role tree, who is a
//! member of what, which products are bound to which roles, and from that how many users want
//! each product (so that the license can be cut to leave a known shortage).

use std::collections::{HashMap, HashSet};

/// Roles 1 ("All employees") and 2 ("System administrators") are built in.
pub const ROLE_BASE: i64 = 3;
/// User 1 is the built-in administrator.
pub const USER_BASE: i64 = 2;
/// Depth of the organizational tree below "All employees".
pub const DEPTH: usize = 6;
/// Share of the roles on levels 1 to 5; level 6 takes the rest (5 000 roles: 5, 25, 100,
/// 400, 1 250 and 3 220).
const LEVEL_SHARES: [f64; DEPTH - 1] = [0.001, 0.005, 0.02, 0.08, 0.25];
/// Product bindings on levels 1 to 4 (30 in all); none on "All employees", none deeper.
const BINDINGS_PER_LEVEL: [usize; 4] = [3, 7, 10, 10];
/// Each product's named seats as a share of the users who want it (the last product, the
/// one the concurrent manual grants use, has spare seats instead).
pub const SEAT_SHARE: f64 = 0.85;
/// Spare seats of the grant product beyond its demand and the grantees.
const GRANT_SPARE: u64 = 100;

/// splitmix64: small, fast, and the same sequence on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

#[derive(Debug, Clone)]
pub struct Params {
    pub users: usize,
    pub roles: usize,
    pub products: usize,
    pub grantees: usize,
    pub seed: u64,
}

pub struct Model {
    pub params: Params,
    /// Users with role memberships; the last `grantees` users have none (they are the
    /// targets of the concurrent manual grants).
    pub regular: usize,
    /// Per role index: the parent's role id, and the level (1 = child of "All employees").
    pub role_parent: Vec<i64>,
    pub role_level: Vec<usize>,
    /// Memberships of regular user `i`: `member_roles[member_start[i]..member_start[i + 1]]`
    /// (role indices).
    pub member_start: Vec<u32>,
    pub member_roles: Vec<u32>,
    /// (role index, product index).
    pub bindings: Vec<(usize, usize)>,
    /// Users who want each product through their roles.
    pub demand: Vec<u64>,
    pub seats: Vec<u64>,
    /// The product the concurrent manual grants use (spare seats).
    pub grant_product: usize,
}

pub fn role_id(index: usize) -> i64 {
    ROLE_BASE + index as i64
}

pub fn user_id(index: usize) -> i64 {
    USER_BASE + index as i64
}

pub fn product_code(index: usize) -> String {
    format!("p{:02}", index + 1)
}

impl Model {
    pub fn login(&self, index: usize) -> String {
        if index < self.regular {
            format!("user{:07}", index + 1)
        } else {
            format!("grantee{:04}", index - self.regular + 1)
        }
    }

    pub fn role_name(&self, index: usize) -> String {
        format!("L{} unit {:05}", self.role_level[index], index + 1)
    }

    pub fn memberships(&self) -> usize {
        self.member_roles.len()
    }

    pub fn roles_of(&self, user: usize) -> &[u32] {
        let (a, b) = (
            self.member_start[user] as usize,
            self.member_start[user + 1] as usize,
        );
        &self.member_roles[a..b]
    }

    /// (user index, product index) pairs wanted in all.
    pub fn wanted(&self) -> u64 {
        self.demand.iter().sum()
    }

    /// What a full redistribution can grant: every product up to its seats.
    pub fn grantable(&self) -> u64 {
        self.demand
            .iter()
            .zip(&self.seats)
            .map(|(d, s)| (*d).min(*s))
            .sum()
    }

    pub fn level_sizes(&self) -> Vec<usize> {
        let mut sizes = vec![0; DEPTH];
        for l in &self.role_level {
            sizes[l - 1] += 1;
        }
        sizes
    }

    pub fn generate(params: Params) -> Result<Model, String> {
        if params.roles < 60 {
            return Err("--roles must be at least 60 (six levels)".into());
        }
        if params.products < 2 || params.products > 64 {
            return Err("--products must be between 2 and 64".into());
        }
        if params.users < params.grantees + 100 {
            return Err(format!(
                "--users must be at least {} (the grantees and 100 more)",
                params.grantees + 100
            ));
        }
        let mut rng = Rng::new(params.seed);

        // The tree: level sizes, then each role under a parent of the level above, the
        // children spread evenly.
        let mut sizes: Vec<usize> = LEVEL_SHARES
            .iter()
            .map(|s| ((params.roles as f64 * s).round() as usize).max(1))
            .collect();
        let upper: usize = sizes.iter().sum();
        sizes.push(params.roles - upper);
        let mut role_parent = Vec::with_capacity(params.roles);
        let mut role_level = Vec::with_capacity(params.roles);
        let mut levels: Vec<Vec<usize>> = Vec::with_capacity(DEPTH);
        for (depth, &n) in sizes.iter().enumerate() {
            let mut this = Vec::with_capacity(n);
            for j in 0..n {
                let parent = match levels.last() {
                    None => 1,
                    Some(above) => role_id(above[j * above.len() / n]),
                };
                this.push(role_parent.len());
                role_parent.push(parent);
                role_level.push(depth + 1);
            }
            levels.push(this);
        }

        // Bindings: distinct random roles of levels 1–4, products in turn.
        let mut bindings = Vec::new();
        for (depth, &count) in BINDINGS_PER_LEVEL.iter().enumerate() {
            let level = &levels[depth];
            let mut picked = HashSet::new();
            while picked.len() < count.min(level.len()) {
                picked.insert(level[rng.below(level.len())]);
            }
            let mut picked: Vec<usize> = picked.into_iter().collect();
            picked.sort_unstable();
            for role in picked {
                bindings.push((role, bindings.len() % params.products));
            }
        }
        // Products each role gives, own and inherited (parents have lower indices).
        let mut gives = vec![0u64; params.roles];
        for (role, product) in &bindings {
            gives[*role] |= 1 << product;
        }
        for j in 0..params.roles {
            let parent = role_parent[j];
            if parent >= ROLE_BASE {
                gives[j] |= gives[(parent - ROLE_BASE) as usize];
            }
        }

        // Memberships: 2 to 4 distinct roles per user (3 on average), uniform over the tree.
        let regular = params.users - params.grantees;
        let mut member_start = Vec::with_capacity(regular + 1);
        let mut member_roles = Vec::with_capacity(regular * 3);
        let mut demand = vec![0u64; params.products];
        for _ in 0..regular {
            member_start.push(u32::try_from(member_roles.len()).map_err(|e| e.to_string())?);
            let n = 2 + rng.below(3);
            let start = member_roles.len();
            let mut wants = 0u64;
            while member_roles.len() - start < n {
                let r = rng.below(params.roles);
                if !member_roles[start..].contains(&(r as u32)) {
                    member_roles.push(r as u32);
                    wants |= gives[r];
                }
            }
            for (p, d) in demand.iter_mut().enumerate() {
                *d += (wants >> p) & 1;
            }
        }
        member_start.push(u32::try_from(member_roles.len()).map_err(|e| e.to_string())?);

        let grant_product = params.products - 1;
        let seats = demand
            .iter()
            .enumerate()
            .map(|(p, &d)| {
                if p == grant_product {
                    d + params.grantees as u64 + GRANT_SPARE
                } else {
                    ((d as f64 * SEAT_SHARE).floor() as u64).max(1)
                }
            })
            .collect();
        Ok(Model {
            params,
            regular,
            role_parent,
            role_level,
            member_start,
            member_roles,
            bindings,
            demand,
            seats,
            grant_product,
        })
    }

    /// `share` of the memberships, chosen at random, each moved to another role the user is
    /// not in: (user index, old role index, new role index).
    pub fn membership_moves(&self, share: f64, seed: u64) -> Vec<(usize, usize, usize)> {
        let mut rng = Rng::new(seed ^ 0x5EED_0FC4_A46E);
        let total = self.memberships();
        let count = ((total as f64 * share).round() as usize).min(total);
        let mut picked = HashSet::with_capacity(count);
        while picked.len() < count {
            picked.insert(rng.below(total));
        }
        let mut picked: Vec<usize> = picked.into_iter().collect();
        picked.sort_unstable();
        // Membership index → user: walk the offsets once.
        let mut moves = Vec::with_capacity(count);
        let mut user = 0;
        let mut taken: HashMap<usize, Vec<u32>> = HashMap::new();
        for m in picked {
            while self.member_start[user + 1] as usize <= m {
                user += 1;
            }
            let old = self.member_roles[m] as usize;
            let mine = taken
                .entry(user)
                .or_insert_with(|| self.roles_of(user).to_vec());
            let new = loop {
                let r = rng.below(self.params.roles);
                if !mine.contains(&(r as u32)) {
                    break r;
                }
            };
            mine.push(new as u32);
            moves.push((user, old, new));
        }
        moves
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Model {
        Model::generate(Params {
            users: 5_000,
            roles: 5_000,
            products: 20,
            grantees: 20,
            seed: 7,
        })
        .unwrap()
    }

    #[test]
    fn the_tree_has_six_levels_and_the_asked_size() {
        let m = small();
        assert_eq!(m.role_parent.len(), 5_000);
        assert_eq!(m.level_sizes(), vec![5, 25, 100, 400, 1_250, 3_220]);
        assert_eq!(m.level_sizes().len(), DEPTH);
        assert!(m.level_sizes().iter().all(|n| *n >= 1));
        // Parents are on the level above.
        for (j, p) in m.role_parent.iter().enumerate() {
            if m.role_level[j] == 1 {
                assert_eq!(*p, 1);
            } else {
                assert_eq!(m.role_level[(p - ROLE_BASE) as usize], m.role_level[j] - 1);
            }
        }
    }

    #[test]
    fn memberships_average_three_and_seats_leave_a_shortage() {
        let m = small();
        let avg = m.memberships() as f64 / m.regular as f64;
        assert!((2.8..3.2).contains(&avg), "{avg}");
        assert!(m.grantable() < m.wanted());
        assert_eq!(m.bindings.len(), 30);
        assert!(m.seats[m.grant_product] > m.demand[m.grant_product]);
    }

    #[test]
    fn the_same_seed_gives_the_same_organisation() {
        let (a, b) = (small(), small());
        assert_eq!(a.member_roles, b.member_roles);
        assert_eq!(a.bindings, b.bindings);
        assert_eq!(a.membership_moves(0.01, 1), b.membership_moves(0.01, 1));
    }

    #[test]
    fn moves_go_to_roles_the_user_is_not_in() {
        let m = small();
        let moves = m.membership_moves(0.01, 1);
        assert_eq!(
            moves.len(),
            (m.memberships() as f64 * 0.01).round() as usize
        );
        for (u, old, new) in moves {
            assert!(m.roles_of(u).contains(&(old as u32)));
            assert!(!m.roles_of(u).contains(&(new as u32)));
        }
    }
}
