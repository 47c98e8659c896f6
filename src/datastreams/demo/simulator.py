"""A seeded simulator of learning-platform activity, for the demo, tests and benchmarks.

Each school (one domain id) gets teachers, students, courses with units of items, and
enrollments, all built from the seed when the simulator is created. ``events`` then
describes a school day: users sign in and out, students open items, submit work and
get grades, teachers change courses and items and enroll students, administrators
change the school, and some sign-ins fail.

Every ``data`` object validates against the catalogue's schema for its type. Each
entity's version member (course, item, enrollment metrics, grade, domain) increases by
one with every event about it, starting above any version it had before. Everything
except each event's ``guid`` (a random UUID, so runs on one database never collide)
and the times (read from ``clock``) follows from the seed.
"""

from __future__ import annotations

import bisect
import itertools
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any, Generic, TypeVar

from datastreams.events.timefmt import format_time

Clock = Callable[[], datetime]
T = TypeVar("T")

SCHOOL_NAMES = (
    "Lincoln",
    "Roosevelt",
    "Jefferson",
    "Washington",
    "Madison",
    "Franklin",
    "Hamilton",
    "Kennedy",
)
TIME_ZONES = ("America/Denver", "America/Chicago", "America/New_York", "America/Los_Angeles")

# Subject, course code and one topic per unit.
SUBJECTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "Algebra I",
        "ALG1",
        ("Linear Equations", "Inequalities", "Functions", "Systems", "Exponents", "Quadratics"),
    ),
    ("Biology", "BIO", ("Cells", "Genetics", "Evolution", "Ecology", "Human Body", "Plants")),
    (
        "World History",
        "WHIS",
        ("First Civilizations", "Classical Empires", "Middle Ages", "Renaissance", "Revolutions"),
    ),
    ("English 9", "ENG9", ("Short Stories", "Poetry", "Drama", "The Novel", "Argument Writing")),
    (
        "Chemistry",
        "CHEM",
        ("Matter", "Atomic Structure", "Periodic Table", "Bonding", "Reactions", "Stoichiometry"),
    ),
    ("Geometry", "GEOM", ("Reasoning and Proof", "Triangles", "Polygons", "Circles", "Volume")),
    ("Spanish I", "SPAN1", ("Greetings", "Family", "School Life", "Food", "Travel")),
    ("US History", "USHIS", ("Colonies", "Revolution", "Constitution", "Civil War", "Industry")),
    ("Physics", "PHYS", ("Motion", "Forces", "Energy", "Momentum", "Waves", "Electricity")),
    ("Health", "HLTH", ("Nutrition", "Fitness", "Mental Health", "Safety", "First Aid")),
)

# Lowest percentage of each letter grade, highest first.
LETTER_GRADES = (
    (93, "A"),
    (90, "A-"),
    (87, "B+"),
    (83, "B"),
    (80, "B-"),
    (77, "C+"),
    (73, "C"),
    (70, "C-"),
    (60, "D"),
    (0, "F"),
)
PASSING_PERCENT = 60

SESSION_LENGTH = timedelta(hours=8)
# Random picks of an item to submit before the student only views an item instead.
# Few tries keep a student who has submitted nearly everything cheap to simulate.
SUBMIT_TRIES = 4
# The share of users that the session action aims to keep signed in.
SIGNED_IN_TARGET = 0.6


@dataclass(eq=False, slots=True)
class _Pool(Generic[T]):
    """A set with O(1) add, remove and random choice; members compare by identity."""

    members: list[T] = field(default_factory=list)
    positions: dict[T, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.members)

    def add(self, member: T) -> None:
        if member in self.positions:
            return
        self.positions[member] = len(self.members)
        self.members.append(member)

    def remove(self, member: T) -> None:
        position = self.positions.pop(member)
        last = self.members.pop()
        # Unless the removed member was the last one, the last one takes its place.
        if position < len(self.members):
            self.members[position] = last
            self.positions[last] = position

    def choice(self, rng: Random) -> T:
        return self.members[int(rng.random() * len(self.members))]


@dataclass(frozen=True, slots=True)
class _Instant:
    """The time of one action, formatted once because most of its events write it."""

    at: datetime
    text: str


@dataclass(eq=False, slots=True)
class _User:
    id: str
    school: _School
    is_teacher: bool
    # How well a student scores, from 0 to 1.
    ability: float = 0.8
    session_id: str | None = None
    failed_logins: int = 0
    enrollments: list[_Enrollment] = field(default_factory=list)


@dataclass(eq=False, slots=True)
class _Item:
    id: str
    unit: int
    title: str
    type: str
    parent_id: str | None
    sequence: str
    gradable: bool
    max_points: float | None
    due: datetime | None
    category_id: str | None
    modified: str
    version: int
    visible: bool = True

    def to_data(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "type": self.type,
            "parentId": self.parent_id,
            "sequence": self.sequence,
            "visible": self.visible,
            "gradable": self.gradable,
            "maxPoints": self.max_points,
            "dueDate": format_time(self.due) if self.due is not None else None,
            "categoryId": self.category_id,
            "modifiedDate": self.modified,
        }


@dataclass(eq=False, slots=True)
class _Course:
    id: str
    school: _School
    title: str
    code: str
    topics: tuple[str, ...]
    teacher: _User
    start: datetime
    end: datetime
    term: str
    base_id: str
    created: str
    modified: str
    version: int
    items: list[_Item] = field(default_factory=list)
    # Items that students work on (everything but folders), and the graded ones among them.
    work_items: list[_Item] = field(default_factory=list)
    gradable_items: list[_Item] = field(default_factory=list)
    enrollments: list[_Enrollment] = field(default_factory=list)
    items_added_per_unit: dict[int, int] = field(default_factory=dict)

    def to_data(self) -> dict[str, Any]:
        return {
            "domainId": self.school.domain_id,
            "title": self.title,
            "reference": f"{self.code}-{self.id}",
            "type": "range",
            "startDate": format_time(self.start),
            "endDate": format_time(self.end),
            "days": None,
            "term": self.term,
            "baseId": self.base_id,
            "archived": False,
            "creationDate": self.created,
            "modifiedDate": self.modified,
        }

    def add_item(self, item: _Item) -> None:
        self.items.append(item)
        if item.type != "folder":
            self.work_items.append(item)
        if item.gradable:
            self.gradable_items.append(item)


@dataclass(eq=False, slots=True)
class _Grade:
    item: _Item
    version: int = 0
    status: str = "submitted"
    score: float | None = None
    possible: float | None = None
    letter: str | None = None
    attempt: int = 0
    submitted: str | None = None
    scored: str | None = None
    scored_by: str | None = None

    def to_data(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "possible": self.possible,
            "letter": self.letter,
            "status": self.status,
            "attempt": self.attempt,
            "submittedDate": self.submitted,
            "scoredDate": self.scored,
            "scoredByUserId": self.scored_by,
        }


@dataclass(eq=False, slots=True)
class _Enrollment:
    id: str
    user: _User
    course: _Course
    grades: dict[str, _Grade] = field(default_factory=dict)
    metrics_version: int = 1
    score: float = 0.0
    possible: float = 0.0
    completed_items: int = 0
    time_spent_s: float = 0.0
    last_activity: str | None = None

    def metrics_to_data(self) -> dict[str, Any]:
        graded = self.possible > 0
        percent = 100 * self.score / self.possible if graded else 100.0
        return {
            "score": self.score if graded else None,
            "possible": self.possible if graded else None,
            "letter": letter_grade(percent) if graded else None,
            "completedItems": self.completed_items,
            "totalItems": len(self.course.gradable_items),
            "timeSpentSeconds": int(self.time_spent_s),
            "lastActivityDate": self.last_activity,
            "failing": percent < PASSING_PERCENT,
        }


@dataclass(eq=False, slots=True)
class _School:
    domain_id: str
    name: str
    userspace: str
    reference: str
    parent_id: str | None
    time_zone: str
    created: str
    modified: str
    version: int
    locale: str = "en-US"
    admin_id: str = ""
    teachers: list[_User] = field(default_factory=list)
    students: list[_User] = field(default_factory=list)
    courses: list[_Course] = field(default_factory=list)
    signed_in_students: _Pool[_User] = field(default_factory=_Pool)
    signed_out_users: _Pool[_User] = field(default_factory=_Pool)
    signed_in_users: _Pool[_User] = field(default_factory=_Pool)
    # Submissions of assignments and discussions that wait for their teacher.
    pending_grades: _Pool[tuple[_Enrollment, _Grade]] = field(default_factory=_Pool)

    def to_data(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "userspace": self.userspace,
            "reference": self.reference,
            "parentId": self.parent_id,
            "timeZone": self.time_zone,
            "locale": self.locale,
            "creationDate": self.created,
            "modifiedDate": self.modified,
        }


def letter_grade(percent: float) -> str:
    """Return the letter grade of a percentage on a common US scale."""
    for lowest, letter in LETTER_GRADES:
        if percent >= lowest:
            return letter
    return LETTER_GRADES[-1][1]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class LmsSimulator:
    """Generates realistic, seeded event containers for the schools ``domain_ids``.

    ``parent_id`` is the id of the schools' district, written into domain change
    events. ``clock`` returns the current time as an aware datetime; tests pass a fixed
    clock to make the times repeatable too.
    """

    def __init__(
        self,
        domain_ids: Sequence[str],
        seed: int = 1,
        *,
        parent_id: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not domain_ids:
            raise ValueError("domain_ids must name at least one school")
        if len(set(domain_ids)) != len(domain_ids):
            raise ValueError(f"domain_ids must be unique, got {list(domain_ids)}")

        self._rng = Random(seed)
        self._clock = clock or _utc_now
        self._pending: deque[dict[str, Any]] = deque()
        self._user_ids = itertools.count(3_390_100)
        self._course_ids = itertools.count(2_251_400)
        self._enrollment_ids = itertools.count(4_410_900)
        self._schools = [
            self._build_school(domain_id, position, parent_id, self._clock())
            for position, domain_id in enumerate(domain_ids)
        ]

        actions: list[tuple[Callable[[_School, _Instant], None], float]] = [
            (self._change_session, 14),
            (self._work_on_item, 42),
            (self._submit_work, 14),
            (self._grade_submission, 11),
            (self._change_course, 1.5),
            (self._create_item, 2),
            (self._change_item, 3.5),
            (self._enroll_student, 2),
            (self._change_school, 0.3),
            (self._fail_login, 1.5),
        ]
        self._actions = [action for action, _ in actions]
        self._cumulative_weights = list(itertools.accumulate(weight for _, weight in actions))

    @property
    def school_names(self) -> dict[str, str]:
        """The display name of each school, by domain id."""
        return {school.domain_id: school.name for school in self._schools}

    def events(self, count: int) -> Iterator[dict[str, Any]]:
        """Return an iterator over the next ``count`` events.

        An action that makes several events (a submission and its grade) may be split
        across calls. The rest of it comes first in the next call, so consecutive calls
        form one consistent history.
        """
        if count < 0:
            raise ValueError(f"count must be 0 or more, got {count}")
        return self._generate(count)

    def _generate(self, count: int) -> Iterator[dict[str, Any]]:
        pending = self._pending
        for _ in range(count):
            while not pending:
                self._run_action()
            yield pending.popleft()

    # Building the world -----------------------------------------------------------

    def _build_school(
        self, domain_id: str, position: int, parent_id: str | None, now: datetime
    ) -> _School:
        rng = self._rng
        base_name = SCHOOL_NAMES[position % len(SCHOOL_NAMES)]
        round_number = position // len(SCHOOL_NAMES)
        suffix = f" {round_number + 1}" if round_number else ""
        created = format_time(now - timedelta(days=rng.randint(200, 900), seconds=rng.random()))

        school = _School(
            domain_id=domain_id,
            name=f"{base_name} High School{suffix}",
            userspace=f"{base_name.lower()}-hs{suffix.strip()}",
            reference=f"SIS-{rng.randint(1, 9999):04d}",
            parent_id=parent_id,
            time_zone=rng.choice(TIME_ZONES),
            created=created,
            modified=created,
            version=rng.randint(1, 3),
        )
        school.admin_id = str(next(self._user_ids))

        for _ in range(rng.randint(5, 8)):
            school.teachers.append(self._new_user(school, is_teacher=True))
        for _ in range(rng.randint(60, 100)):
            school.students.append(self._new_user(school, is_teacher=False))

        term_start = now.replace(hour=6, minute=0, second=0, microsecond=0) - timedelta(days=30)
        for teacher in school.teachers:
            for _ in range(rng.randint(1, 2)):
                school.courses.append(self._build_course(school, teacher, term_start))

        for student in school.students:
            for course in rng.sample(school.courses, min(4, len(school.courses))):
                self._add_enrollment(student, course)
        return school

    def _new_user(self, school: _School, *, is_teacher: bool) -> _User:
        user = _User(
            id=str(next(self._user_ids)),
            school=school,
            is_teacher=is_teacher,
            ability=self._rng.uniform(0.55, 0.98),
        )
        school.signed_out_users.add(user)
        return user

    def _build_course(self, school: _School, teacher: _User, term_start: datetime) -> _Course:
        rng = self._rng
        subject_index = rng.randrange(len(SUBJECTS))
        subject, code, topics = SUBJECTS[subject_index]
        period = rng.randint(1, 7)
        created = format_time(term_start - timedelta(days=rng.randint(10, 40)))
        season = "Fall" if term_start.month >= 7 else "Spring"

        course = _Course(
            id=str(next(self._course_ids)),
            school=school,
            title=f"{subject} (Period {period})",
            code=code,
            topics=topics,
            teacher=teacher,
            start=term_start,
            end=term_start.replace(hour=7) + timedelta(days=116),
            term=f"{term_start.year} {season}",
            base_id=str(2_250_000 + subject_index),
            created=created,
            modified=created,
            version=rng.randint(1, 4),
        )
        for unit, topic in enumerate(topics, start=1):
            self._build_unit(course, unit, topic, created)
        return course

    def _build_unit(self, course: _Course, unit: int, topic: str, modified: str) -> None:
        rng = self._rng
        folder_id = f"U{unit}_FOLDER"
        due = course.start + timedelta(days=14 * unit, hours=23, minutes=59)
        entries = (
            (folder_id, f"Unit {unit}: {topic}", "folder", None, None, None),
            (f"U{unit}_READ", f"Unit {unit} Reading: {topic}", "page", None, None, None),
            (f"U{unit}_HW1", f"Unit {unit} Homework: {topic}", "assignment", 10, due, "homework"),
            (f"U{unit}_DISC", f"Unit {unit} Discussion", "discussion", 5, due, "participation"),
            (f"U{unit}_QUIZ", f"Unit {unit} Quiz: {topic}", "assessment", 20, due, "quizzes"),
        )

        for position, (item_id, title, kind, points, due_at, category) in enumerate(entries):
            item = _Item(
                id=item_id,
                unit=unit,
                title=title,
                type=kind,
                parent_id=None if kind == "folder" else folder_id,
                sequence=f"a{unit:02d}{position:02d}",
                gradable=points is not None,
                max_points=float(points) if points is not None else None,
                due=due_at,
                category_id=category,
                modified=modified,
                version=rng.randint(1, 3),
            )
            course.add_item(item)

    def _add_enrollment(self, student: _User, course: _Course) -> _Enrollment:
        enrollment = _Enrollment(
            id=str(next(self._enrollment_ids)),
            user=student,
            course=course,
        )
        student.enrollments.append(enrollment)
        course.enrollments.append(enrollment)
        return enrollment

    # Producing events -----------------------------------------------------------

    def _run_action(self) -> None:
        rng = self._rng
        school = self._schools[int(rng.random() * len(self._schools))]
        pick = rng.random() * self._cumulative_weights[-1]
        action = self._actions[bisect.bisect_right(self._cumulative_weights, pick)]
        at = self._clock()
        action(school, _Instant(at, format_time(at)))

    def _emit(
        self,
        school: _School,
        event_type: str,
        data: dict[str, Any],
        now: _Instant,
        user: _User | None = None,
        *,
        user_id: str | None = None,
    ) -> None:
        event: dict[str, Any] = {
            "time": now.text,
            "guid": str(uuid.uuid4()),
            "domainId": school.domain_id,
            "type": event_type,
            "data": data,
        }
        if user is not None:
            event["userId"] = user.id
            if user.session_id is not None:
                event["sessionId"] = user.session_id
        elif user_id is not None:
            event["userId"] = user_id
        self._pending.append(event)

    def _session_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    # Sessions

    def _change_session(self, school: _School, now: _Instant) -> None:
        signed_in = len(school.signed_in_users)
        total = signed_in + len(school.signed_out_users)
        wants_more = signed_in < SIGNED_IN_TARGET * total
        sign_in = self._rng.random() < (0.8 if wants_more else 0.3)

        if sign_in and school.signed_out_users:
            self._sign_in(school.signed_out_users.choice(self._rng), now)
        elif school.signed_in_users:
            self._sign_out(school.signed_in_users.choice(self._rng), now)
        else:
            self._sign_in(school.signed_out_users.choice(self._rng), now)

    def _sign_in(self, user: _User, now: _Instant) -> None:
        rng = self._rng
        school = user.school
        user.session_id = self._session_id()
        user.failed_logins = 0
        school.signed_out_users.remove(user)
        school.signed_in_users.add(user)
        if not user.is_teacher:
            school.signed_in_students.add(user)

        on_app = rng.random() < 0.2
        data = {
            "sessionId": user.session_id,
            "userId": user.id,
            "authenticationMethod": rng.choice(("sso", "sso", "password", "lti")),
            "clientType": "mobileApp" if on_app else "browser",
            "clientVersion": "4.12.1" if on_app else None,
            "expiresTime": format_time(now.at + SESSION_LENGTH),
        }
        self._emit(school, "UserSessionStarted", data, now, user)

    def _sign_out(self, user: _User, now: _Instant) -> None:
        rng = self._rng
        if rng.random() < 0.75:
            self._end_session(user, now, "signedOut", round(rng.uniform(120, 5400), 1))
        else:
            self._end_session(user, now, "expired", round(rng.uniform(1800, 28800), 1))

        school = user.school
        school.signed_in_users.remove(user)
        school.signed_out_users.add(user)
        if not user.is_teacher:
            school.signed_in_students.remove(user)

    def _end_session(self, user: _User, now: _Instant, reason: str, duration_s: float) -> None:
        data = {
            "sessionId": user.session_id,
            "userId": user.id,
            "reason": reason,
            "durationSeconds": duration_s,
        }
        self._emit(user.school, "UserSessionEnded", data, now, user)
        user.session_id = None

    def _fail_login(self, school: _School, now: _Instant) -> None:
        rng = self._rng
        roll = rng.random()
        user: _User | None = None
        if roll < 0.15:
            method, reason = "password", "unknownUser"
        else:
            user = school.signed_out_users.choice(rng) if school.signed_out_users else None
            if user is None:
                method, reason = "password", "unknownUser"
            elif user.failed_logins >= 5:
                method, reason = "password", "accountLocked"
            elif roll < 0.25:
                method, reason = "sso", "ssoRejected"
            elif roll < 0.3:
                method, reason = "password", "passwordExpired"
            else:
                method, reason = "password", "badPassword"

        data: dict[str, Any] = {
            "userId": user.id if user is not None else None,
            "actorUserId": None,
            "outcome": "failed",
            "authenticationMethod": method,
            "reason": reason,
        }
        if user is not None:
            user.failed_logins += 1
            data["consecutiveFailures"] = user.failed_logins
        self._emit(school, "AuthLoginFailed", data, now)

    # Students

    def _signed_in_student(self, school: _School, now: _Instant) -> _User | None:
        """Return a signed-in student, or sign one in (an event) and return ``None``."""
        if len(school.signed_in_students) == 0:
            candidates = [user for user in school.signed_out_users.members if not user.is_teacher]
            self._sign_in(self._rng.choice(candidates), now)
            return None
        return school.signed_in_students.choice(self._rng)

    def _work_on_item(self, school: _School, now: _Instant) -> None:
        rng = self._rng
        student = self._signed_in_student(school, now)
        if student is None:
            return

        enrollment = rng.choice(student.enrollments)
        item = rng.choice(enrollment.course.work_items)
        if item.type == "assessment" and rng.random() < 0.3:
            activity, duration_s = "start", rng.uniform(60, 1800)
        elif item.type in ("assignment", "discussion") and rng.random() < 0.3:
            activity, duration_s = "save", rng.uniform(60, 2400)
        else:
            activity, duration_s = "view", rng.uniform(5, 600)
        self._record_activity(enrollment, item, activity, round(duration_s, 1), now)

    def _record_activity(
        self, enrollment: _Enrollment, item: _Item, activity: str, duration_s: float, now: _Instant
    ) -> None:
        enrollment.time_spent_s += duration_s
        enrollment.last_activity = now.text
        data = {
            "enrollmentId": enrollment.id,
            "userId": enrollment.user.id,
            "courseId": enrollment.course.id,
            "itemId": item.id,
            "activityType": activity,
            "startTime": format_time(now.at - timedelta(seconds=duration_s)),
            "durationSeconds": duration_s,
        }
        self._emit(enrollment.course.school, "ItemActivity", data, now, enrollment.user)

    def _submit_work(self, school: _School, now: _Instant) -> None:
        rng = self._rng
        student = self._signed_in_student(school, now)
        if student is None:
            return

        enrollment = rng.choice(student.enrollments)
        item = self._open_item(enrollment)
        if item is None:
            self._work_on_item(school, now)
            return

        self._record_activity(enrollment, item, "submit", round(rng.uniform(120, 2700), 1), now)

        grade = enrollment.grades.get(item.id)
        old_data = grade.to_data() if grade is not None else None
        if grade is None:
            grade = _Grade(item=item)
            enrollment.grades[item.id] = grade
        grade.version += 1
        grade.status = "submitted"
        grade.attempt += 1
        grade.score = None
        grade.letter = None
        grade.possible = item.max_points
        grade.submitted = now.text
        grade.scored = None
        grade.scored_by = None
        self._emit_grade(enrollment, grade, old_data, now, student)

        if item.type == "assessment":
            # Quizzes are scored automatically as they are submitted.
            self._score(enrollment, grade, None, now, student)
        else:
            school.pending_grades.add((enrollment, grade))

    def _open_item(self, enrollment: _Enrollment) -> _Item | None:
        """Return a gradable item that the student may submit, or ``None`` after a few tries."""
        for _ in range(SUBMIT_TRIES):
            item = self._rng.choice(enrollment.course.gradable_items)
            grade = enrollment.grades.get(item.id)
            if grade is None or grade.status == "returned":
                return item
        return None

    # Teachers

    def _signed_in_teacher(self, teacher: _User, now: _Instant) -> bool:
        """Return whether ``teacher`` is signed in; sign them in (an event) if not."""
        if teacher.session_id is None:
            self._sign_in(teacher, now)
            return False
        return True

    def _grade_submission(self, school: _School, now: _Instant) -> None:
        if not school.pending_grades:
            self._work_on_item(school, now)
            return

        enrollment, grade = school.pending_grades.choice(self._rng)
        teacher = enrollment.course.teacher
        if not self._signed_in_teacher(teacher, now):
            return

        school.pending_grades.remove((enrollment, grade))
        if self._rng.random() < 0.1:
            old_data = grade.to_data()
            grade.version += 1
            grade.status = "returned"
            self._emit_grade(enrollment, grade, old_data, now, teacher)
        else:
            self._score(enrollment, grade, teacher, now, teacher)

    def _score(
        self,
        enrollment: _Enrollment,
        grade: _Grade,
        scorer: _User | None,
        now: _Instant,
        actor: _User,
    ) -> None:
        possible = grade.possible or 0.0
        fraction = min(1.0, max(0.0, self._rng.gauss(enrollment.user.ability, 0.12)))
        # Whole or half points, as teachers and answer keys give them.
        score = round(possible * fraction * 2) / 2

        old_data = grade.to_data()
        grade.version += 1
        grade.status = "graded"
        grade.score = score
        grade.letter = letter_grade(100 * score / possible) if possible else None
        grade.scored = now.text
        grade.scored_by = scorer.id if scorer is not None else None
        self._emit_grade(enrollment, grade, old_data, now, actor)

        old_metrics = enrollment.metrics_to_data()
        enrollment.metrics_version += 1
        enrollment.score += score
        enrollment.possible += possible
        enrollment.completed_items += 1
        data = {
            "enrollmentId": enrollment.id,
            "userId": enrollment.user.id,
            "courseId": enrollment.course.id,
            "version": enrollment.metrics_version,
            "oldMetrics": old_metrics,
            "newMetrics": enrollment.metrics_to_data(),
        }
        self._emit(enrollment.course.school, "EnrollmentMetricsChanged", data, now, actor)

    def _emit_grade(
        self,
        enrollment: _Enrollment,
        grade: _Grade,
        old_data: dict[str, Any] | None,
        now: _Instant,
        actor: _User,
    ) -> None:
        data: dict[str, Any] = {
            "enrollmentId": enrollment.id,
            "userId": enrollment.user.id,
            "courseId": enrollment.course.id,
            "itemId": grade.item.id,
            "version": grade.version,
        }
        if old_data is None:
            data["newGrade"] = grade.to_data()
            event_type = "GradeCreated"
        else:
            data["oldGrade"] = old_data
            data["newGrade"] = grade.to_data()
            event_type = "GradeChanged"
        self._emit(enrollment.course.school, event_type, data, now, actor)

    def _change_course(self, school: _School, now: _Instant) -> None:
        rng = self._rng
        course = rng.choice(school.courses)
        if not self._signed_in_teacher(course.teacher, now):
            return

        old_data = course.to_data()
        course.version += 1
        course.modified = now.text
        course.end += timedelta(days=rng.choice((-3, -2, -1, 1, 2, 5, 7)))
        data = {
            "courseId": course.id,
            "version": course.version,
            "oldCourse": old_data,
            "newCourse": course.to_data(),
        }
        self._emit(school, "CourseEntityChanged", data, now, course.teacher)

    def _create_item(self, school: _School, now: _Instant) -> None:
        rng = self._rng
        course = rng.choice(school.courses)
        if not self._signed_in_teacher(course.teacher, now):
            return

        unit = rng.randint(1, len(course.topics))
        added = course.items_added_per_unit.get(unit, 0) + 1
        course.items_added_per_unit[unit] = added
        is_lab = rng.random() < 0.5
        topic = course.topics[unit - 1]
        item = _Item(
            id=f"U{unit}_{'LAB' if is_lab else 'HW'}{added + 1}",
            unit=unit,
            title=f"Unit {unit} {'Lab' if is_lab else 'Homework'} {added + 1}: {topic}",
            type="assignment",
            parent_id=f"U{unit}_FOLDER",
            sequence=f"a{unit:02d}{50 + added:02d}",
            gradable=True,
            max_points=float(rng.choice((10, 15, 25))),
            due=now.at.replace(microsecond=0) + timedelta(days=rng.randint(3, 14)),
            category_id="labs" if is_lab else "homework",
            modified=now.text,
            version=1,
        )
        course.add_item(item)
        data = {
            "courseId": course.id,
            "itemId": item.id,
            "version": item.version,
            "newItem": item.to_data(),
        }
        self._emit(school, "CourseItemCreated", data, now, course.teacher)

    def _change_item(self, school: _School, now: _Instant) -> None:
        rng = self._rng
        course = rng.choice(school.courses)
        if not self._signed_in_teacher(course.teacher, now):
            return

        item = rng.choice(course.work_items)
        old_data = item.to_data()
        item.version += 1
        item.modified = now.text
        roll = rng.random()
        if item.due is not None and roll < 0.7:
            item.due += timedelta(days=rng.randint(1, 7))
        else:
            item.visible = not item.visible
        data = {
            "courseId": course.id,
            "itemId": item.id,
            "version": item.version,
            "oldItem": old_data,
            "newItem": item.to_data(),
        }
        self._emit(school, "CourseItemChanged", data, now, course.teacher)

    def _enroll_student(self, school: _School, now: _Instant) -> None:
        rng = self._rng
        course = rng.choice(school.courses)
        if not self._signed_in_teacher(course.teacher, now):
            return

        student = rng.choice(school.students)
        if any(enrollment.course is course for enrollment in student.enrollments):
            # A transfer student: new to the school, so in none of its courses yet.
            student = self._new_user(school, is_teacher=False)
            school.students.append(student)

        enrollment = self._add_enrollment(student, course)
        data = {
            "enrollmentId": enrollment.id,
            "userId": student.id,
            "courseId": course.id,
            "version": 1,
            "newEnrollment": {
                "domainId": school.domain_id,
                "role": "student",
                "status": "active",
                "startDate": format_time(now.at.replace(microsecond=0)),
                "endDate": None,
                "reference": f"SIS-E{enrollment.id}",
            },
        }
        self._emit(school, "EnrollmentEntityCreated", data, now, course.teacher)

    # Administrators

    def _change_school(self, school: _School, now: _Instant) -> None:
        rng = self._rng
        old_data = school.to_data()
        school.version += 1
        school.modified = now.text
        if rng.random() < 0.5:
            school.reference = f"SIS-{rng.randint(1, 9999):04d}"
        else:
            school.locale = "es-US" if school.locale == "en-US" else "en-US"
        data = {
            "domainId": school.domain_id,
            "version": school.version,
            "oldDomain": old_data,
            "newDomain": school.to_data(),
        }
        self._emit(school, "DomainEntityChanged", data, now, user_id=school.admin_id)
