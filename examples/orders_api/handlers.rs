//! The orders API itself: plain axum handlers, with no shutdown logic in
//! them. Shared by `orders` (served by lifecycle), `orders_naive` (the
//! baseline, plain `axum::serve`) and the HTTP bench.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the shop sells: SKU and unit price in cents.
const CATALOG: &[(&str, u64)] = &[
    ("tea-earl-grey", 450),
    ("tea-sencha", 620),
    ("mug-stoneware", 1800),
];

/// A checkout request: `POST /orders {"sku": "tea-sencha", "quantity": 2}`.
#[derive(Debug, Deserialize)]
pub struct Checkout {
    pub sku: String,
    pub quantity: u32,
}

/// A confirmed order.
#[derive(Debug, Serialize)]
pub struct Order {
    pub id: u64,
    pub sku: String,
    pub quantity: u32,
    pub total_cents: u64,
    pub status: &'static str,
}

/// A catalog entry.
#[derive(Debug, Serialize)]
pub struct Product {
    pub sku: &'static str,
    pub price_cents: u64,
}

/// `GET /orders/{id}`.
#[derive(Debug, Serialize)]
pub struct OrderStatus {
    pub id: u64,
    pub status: &'static str,
}

struct Shop {
    next_id: AtomicU64,
    /// How long the (simulated) payment provider takes to authorise a charge.
    payment_latency: Duration,
}

/// The API: `GET /products`, `POST /orders`.
pub fn router(payment_latency: Duration) -> Router {
    let shop = Arc::new(Shop {
        next_id: AtomicU64::new(1),
        payment_latency,
    });
    Router::new()
        .route("/products", get(products))
        .route("/orders", post(checkout))
        .route("/orders/{id}", get(order_status))
        .with_state(shop)
}

async fn products() -> Json<Vec<Product>> {
    Json(
        CATALOG
            .iter()
            .map(|&(sku, price_cents)| Product { sku, price_cents })
            .collect(),
    )
}

async fn checkout(
    State(shop): State<Arc<Shop>>,
    Json(checkout): Json<Checkout>,
) -> Result<(StatusCode, Json<Order>), (StatusCode, String)> {
    let Some(&(_, price)) = CATALOG.iter().find(|(sku, _)| *sku == checkout.sku) else {
        return Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("unknown sku {:?}", checkout.sku),
        ));
    };
    if checkout.quantity == 0 || checkout.quantity > 100 {
        return Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            "quantity must be 1..=100".to_owned(),
        ));
    }
    // Authorise the payment: the slow part of a real checkout.
    if !shop.payment_latency.is_zero() {
        tokio::time::sleep(shop.payment_latency).await;
    }
    let order = Order {
        id: shop.next_id.fetch_add(1, Ordering::Relaxed),
        total_cents: price * u64::from(checkout.quantity),
        sku: checkout.sku,
        quantity: checkout.quantity,
        status: "confirmed",
    };
    Ok((StatusCode::CREATED, Json(order)))
}

async fn order_status(
    State(shop): State<Arc<Shop>>,
    Path(id): Path<u64>,
) -> Result<Json<OrderStatus>, StatusCode> {
    if id == 0 || id >= shop.next_id.load(Ordering::Relaxed) {
        return Err(StatusCode::NOT_FOUND);
    }
    Ok(Json(OrderStatus {
        id,
        status: "confirmed",
    }))
}
