r"""A shop simulator with a documented generative model and kept ground truth.

>>> from shopml.data import Workspace
>>> from shopml.data.synth import SimConfig, simulate
>>> result = simulate(SimConfig(n_users=10_000, n_items=1_000, days=180, seed=42))
>>> result.write(Workspace("shop.duckdb"))        # every canonical table, validated
>>> result.save_truth("truth.npz")                # elasticities, tastes, logging policy ...

The simulator gives ground truth that real data cannot (true elasticities, true click
probabilities, fraud labels, the logging policy's exact propensities) and the demo's data.
Claims of model quality are made on real data, never on the simulator alone.

Generative model
================

Notation: user :math:`u`, item :math:`i`, category :math:`c`, day :math:`d`, latent size
:math:`k` (``n_factors``), :math:`\sigma(x) = 1 / (1 + e^{-x})`. Each component draws from its
own random stream (``numpy.random.SeedSequence(seed).spawn``), so a run is a pure function
of the config.

**Catalogue.** Category vectors :math:`\mu_c \sim N(0, I_k)`, category shares
:math:`w \sim \mathrm{Dirichlet}(4)`. Item :math:`i` of category :math:`c_i \sim w` has

- taste vector :math:`\phi_i = \mu_{c_i} + 0.6\,\varepsilon`, :math:`\varepsilon \sim N(0, I_k)`;
- quality :math:`q_i = b_{\mathrm{brand}(i)} + N(0, 0.5^2)`, brand strength :math:`b \sim N(0, 0.3^2)`,
  and a hidden defect :math:`\delta_i \sim N(0, 0.5^2)` that only shows after purchase;
- list price :math:`p^0_i = m_c e^{0.5 z}` rounded to .99 (:math:`m_c` the category's median
  price), cost :math:`p^0_i \cdot U(0.35, 0.75)`;
- own-price elasticity :math:`\epsilon_i = -\mathrm{clip}(|\bar\epsilon_c| e^{0.3 z}, 0.3, 3.5)`;
- title "brand adjective material noun" and a description from the category's word lists.

**Customers.** Taste :math:`\theta_u \sim N(0, I_k / k)`; price sensitivity
:math:`\beta_u = \exp(a_{\mathrm{age}(u)} + 0.4 z)` (the young more sensitive); activity
:math:`\lambda_u \sim \mathrm{Gamma}(\kappa, \bar\lambda / \kappa)` sessions per day
(``activity_shape``, ``session_rate``). A share ``new_user_share`` signs up during the horizon,
the others before it. 4% of customers shop on another customer's device (households).

**Seasonality.** Traffic multiplier of day :math:`d`:

.. math:: s(d) = w_{\mathrm{dow}(d)} \bigl(1 + A \cos(2\pi(\mathrm{doy}(d) - 340) / 365.25)
          + H e^{-\frac12 ((\mathrm{doy}(d) - 333)/6)^2}\bigr)

with ``weekly`` :math:`w` (normalised to mean 1), ``yearly_amplitude`` :math:`A` and
``holiday_boost`` :math:`H`. Categories have their own cycle
:math:`g_c(d) = 1 + A_c \cos(2\pi(\mathrm{doy}(d) - \mathrm{peak}_c)/365.25)` (garden in May, toys
in December). Hours of the day follow a fixed diurnal profile.

**Sessions.** :math:`N_u \sim \mathrm{Poisson}(\lambda_u \sum_{d \ge \mathrm{signup}_u} s(d))`,
each session's day drawn with probability :math:`\propto s(d)`. Its category is
:math:`c \sim \mathrm{softmax}_c(\theta_u \cdot \mu_c + \log w_c + \log g_c(d))`. A share
``search_share`` starts with a search whose query is built from the words of the first item
then viewed.

**Views.** Utility :math:`v_{ui} = \theta_u \cdot \phi_i + q_i - \beta_u \log(p^0_i / m_{c_i})`.
A session views :math:`K = \min(1 + \mathrm{Poisson}(\bar K - 1), 20)` distinct items of its
category, drawn without replacement with probability :math:`\propto e^{v_{ui}}`
(Plackett-Luce, via the Gumbel top-:math:`K` trick), in that order. Views depend on the list
price, not on the day's price, so discounts act through conversion only. Every event of a
session carries the item's price on the day the session started.

**Funnel.** With the day's price :math:`p_{id}` and :math:`r = p_{id} / p^0_i`,

.. math:: P(\mathrm{cart} \mid \mathrm{view}) = \min\bigl(1,\ C\,\sigma(-2.5 + v_{ui})\, r^{\epsilon_i/2}\bigr),
          \qquad P(\mathrm{buy} \mid \mathrm{cart}) = \min\bigl(1,\ B\,\sigma(0.5 + 0.5 v_{ui})\, r^{\epsilon_i/2}\bigr)

(``view_to_cart`` :math:`C`, ``cart_to_purchase`` :math:`B`), so the expected units of item
:math:`i` on day :math:`d` are

.. math:: E[y_{id}] = \mathrm{base}_i\, \tilde s_i(d)\, (p_{id}/p^0_i)^{\epsilon_i}

a constant-elasticity demand curve wherever the ``min`` does not bind. Since :math:`r \gtrsim 0.53`
(regular price within 0.85-1.2 of list, then rounded; discounts up to 35%) and
:math:`|\epsilon_i| \le 3.5`, :math:`r^{\epsilon_i/2} < 3`: with the default :math:`C = 0.25` the
cart ceiling never binds and with :math:`B = 0.35` the checkout ceiling binds only for a
near-perfect match on a deeply discounted, very elastic item (well under one view in 10^5). Quantity is
:math:`1 + \mathrm{Poisson}(0.15)`. ``base_demand`` in the truth is
:math:`\mathrm{base}_i` averaged over the horizon: the expected units per day at the list
price given the simulated views. Carts not bought are removed explicitly 35% of the time.

**Prices.** Regular price changes arrive at rate ``price_change_rate`` per item and day, each a
step :math:`N(0, 0.07^2)` in log price, the path kept within 0.85-1.2 of list. Promotions
(discount 10-35%, mean length ``promo_days``) cover a share ``promo_share`` of item-days. By default
prices move at random, never in response to demand, so elasticities are identifiable.

**Confounded prices.** With ``price_confounding`` :math:`\gamma > 0` the regular price also
follows the demand a merchandiser anticipates,
:math:`\log p^{\mathrm{reg}}_{id} \mathrel{+}= \mathrm{clip}(\gamma z_{c_i}(d), \pm\log 1.25)` with
:math:`z_c(d) = \log(s(d)/w_{\mathrm{dow}(d)}) + \log g_c(d)` centred per category (dearer in
the busy season, cheaper in the slow one), as real merchandisers price. Demand shocks and prices
then move together, so a regression of log units on log price is biased towards zero (or
beyond) while the true :math:`\epsilon_i` and costs stay in the truth; :math:`z` is a function of
the date and the category only, so an estimator that adjusts for both (controls, double machine
learning) can remove the bias. No extra random draws: with :math:`\gamma = 0` the tables are
unchanged.

**Customers leave** (buy-till-you-die). After each of their orders customer :math:`u` leaves
for good with probability :math:`1 - (1 - p_u)(1 - 0.32\,\mathrm{bad})`, where
:math:`p_u \sim \mathrm{Beta}(0.793, 2.426)` (mean 0.25: Fader, Hardie & Lee's 2005 BG/NBD
estimate on CDNOW, the published fit of a real shop's customers) and ``bad`` marks a bad
experience: the order's least satisfying line (satisfaction, below) has a z-score under -1
(about the worst 16% of purchases: the defect showed, the match was poor, the price felt
unfair); 0.32 is the share of consumers who say they would leave a brand they love after one
bad experience (PwC, "Experience is everything", 2018). A customer who has left makes no
further visits. So whether a customer orders again depends on their visit rate (frequency), on
whether they are still a customer (recency) and on how their last orders went; the truth keeps
:math:`p_u` and the moment each customer left (``dropout_prob``, ``dropout_sec``), which is
the churn step's oracle. The draws come after all of browsing's others, so sessions, views and
orders up to the moment a customer leaves are those of the same shop without drop-out.

**Orders.** One order per session with a purchase, lines in viewing order, checkout shortly
after the last action. Orders are cancelled with probability ``cancel_rate``. Satisfaction of
a delivered line is

.. math:: S = \theta_u \cdot \phi_i + q_i + \delta_i - 0.3 \log r + N(0, 0.7^2)

and the line is returned with probability
:math:`\sigma(\mathrm{logit}(\rho_c) - 1.2\, z(S))` (:math:`\rho_c` the category's return rate,
:math:`z` standardised over delivered lines).

**Reviews.** Stars are :math:`S` cut at the quantiles that give 8/7/12/27/46% of 1..5 stars
over delivered lines; a line is reviewed with probability
:math:`\sigma(\mathrm{logit}(\texttt{review\_rate}) + 0.8(|z(S)| - 0.8) + 0.7\,\mathrm{returned})`,
1 + Exp(6) days later. The text is two sentences from the star rating's phrase list (naming
the item's noun and material) and sometimes one about delivery; ``sentiment`` is :math:`S` on a
continuous star scale (the star cut points mapped to 1.5 .. 4.5, linear between them) rescaled
to [-1, 1], so it agrees with the stars and orders reviews within a star.

**Support messages.** Intents follow what happened: cancellations (``cancel_order``),
returns (``return_item``, ``refund_status``), a share ``support_rate`` of orders asks
``track_order``, a quarter of that ``payment_issue``; texts and answers from templates.

**Fraud.** ``fraud_rate`` of all orders are added by rings (mean ``fraud_ring_size`` orders)
of fresh accounts (0.7 per order) sharing 1 + Poisson(0.8) devices. Each account signs up
Exp(4 min) before its first checkout; sessions are a quick view -> cart -> purchase of 1-3
items chosen with probability :math:`\propto (p^0_i)^{1.2}`, quantity 1 + Poisson(0.8), at
flatter, more nocturnal hours; 50% come from an IP country drawn at random (honest: 3%),
85% pay by card; 20% are caught and cancelled. Honest new customers also buy soon after
signing up and 4% share devices, so the signals are strong but not perfect. Orders carry
``device_id``, ``payment``, ``ip_country``, ``ship_country`` and ``checkout_seconds`` in
``attributes``.

**Impressions.** At the start of a share ``impression_share`` of honest sessions the shop
shows a slate. Candidates: the ``n_candidates`` top items of the session's category by
:math:`\hat q_i + \mathrm{Gumbel}` (:math:`\hat q_i = q_i + N(0, 0.5^2)`, the shop's estimate).
Logging policy: :math:`\pi(a \mid x) = (1 - \varepsilon)\,\mathrm{softmax}(s_a / T) + \varepsilon / M`
with scores :math:`s_a = \hat q_a + N(0, 0.5^2)`; the slate of ``slate_size`` is drawn from
:math:`\pi` without replacement. ``propensity`` is the exact probability of the logged item at
its position given the items above it (:math:`\pi(a_k) / (1 - \sum_{j<k} \pi(a_j))`; the
marginal :math:`\pi(a_1)` at position 1; the slate's probability is the product). Clicks follow
a position-based model :math:`P(\mathrm{click}) = k^{-\eta}\, \sigma(-3.5 + \theta_u \cdot \phi_a + q_a)`
(``examination_decay`` :math:`\eta`); that probability is kept as ``true_ctr``. The context JSON
holds the user's country, device, age band, tenure, hour, weekday and the page's category;
clicks also appear as ``click`` events.

**Step by step.** :mod:`shopml.data.synth.env` runs this model as environments for bandits and
reinforcement learning, with the true rates known: :class:`~shopml.data.synth.env.BanditEnv`
(visitor context -> arm(s) -> clicks under the position-based model above, regret against the
best slate) and :class:`~shopml.data.synth.env.SessionEnv` (state -> recommended arm -> click,
purchase through the funnel, next state). They draw the catalogue and customers with the same
functions and random streams as :func:`simulate`, so no rate is restated there.

Ground truth
============

``labels`` receives: ``order/fraud``, ``user/fraud``, ``impression/true_ctr``,
``item/elasticity``, ``item/base_demand``, ``item/quality``. :class:`SimTruth` (saved with
:meth:`SimResult.save_truth` as ``.npz``, loaded with :func:`load_truth`) holds everything else:
item and user vectors, price sensitivities, costs, defects, seasonality, the logging policy's
candidates and probabilities per decision, and each review's satisfaction.
"""

from shopml.data.synth.config import SimConfig
from shopml.data.synth.engine import simulate
from shopml.data.synth.result import SimResult, SimTruth, load_truth

__all__ = ["SimConfig", "SimResult", "SimTruth", "load_truth", "simulate"]
